// Package logs reads container log files in the CRI format
// ("<RFC3339Nano time> <stdout|stderr> <P|F> <text>") and writes them as
// `kubectl logs` expects: with tail, since, timestamps, byte limit and follow.
package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// Options are the query parameters of a log request.
type Options struct {
	Follow     bool
	TailLines  *int64
	Since      time.Time // zero: from the start
	Timestamps bool
	LimitBytes *int64
}

// Entry is one log record (a whole line once partial records are joined).
type Entry struct {
	Time   time.Time
	Stream string
	Text   []byte // with its trailing newline for full lines
}

// Parse parses one line of a CRI log file.
func Parse(line []byte) (Entry, bool, error) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	ts, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return Entry{}, false, errors.New("no timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return Entry{}, false, fmt.Errorf("timestamp: %w", err)
	}
	stream, rest, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return Entry{}, false, errors.New("no stream")
	}
	tag, text, _ := bytes.Cut(rest, []byte(" "))
	full := !bytes.HasPrefix(tag, []byte("P"))
	out := append([]byte(nil), text...)
	if full {
		out = append(out, '\n')
	}
	return Entry{Time: t, Stream: string(stream), Text: out}, full, nil
}

// Write copies the log at path to w, starting with the files rotated aside
// from it (path.<timestamp>). With Follow it keeps reading new records
// (across rotations) until stillRunning reports false and the file is
// drained, or ctx ends.
func Write(ctx context.Context, w io.Writer, path string, o Options, stillRunning func() bool) error {
	files, _ := filepath.Glob(path + ".*")
	sort.Strings(files)
	files = append(files, path)

	// Find where to start: the file and offset of the n-th last line.
	startFile, startOffset := 0, int64(0)
	if o.TailLines != nil {
		remaining := *o.TailLines
		startFile = len(files) - 1
		for i := len(files) - 1; i >= 0; i-- {
			f, err := os.Open(files[i])
			if err != nil {
				continue
			}
			offset, found, err := tailOffset(f, remaining, o.Since)
			f.Close()
			if err != nil {
				return err
			}
			startFile, startOffset = i, offset
			remaining -= found
			if remaining <= 0 || offset > 0 {
				break
			}
		}
	}

	lw := &limitWriter{w: w, remaining: -1}
	if o.LimitBytes != nil {
		lw.remaining = *o.LimitBytes
	}
	st := &stream{w: lw, o: o}
	for i := startFile; i < len(files)-1; i++ {
		f, err := os.Open(files[i])
		if err != nil {
			continue
		}
		offset := int64(0)
		if i == startFile {
			offset = startOffset
		}
		done, err := st.copyFile(f, offset)
		f.Close()
		if err != nil || done {
			return err
		}
	}
	offset := int64(0)
	if startFile == len(files)-1 {
		offset = startOffset
	}
	return st.follow(ctx, path, offset, stillRunning)
}

// stream turns CRI records into output lines, joining partial records.
type stream struct {
	w           *limitWriter
	o           Options
	partial     bytes.Buffer
	partialTime time.Time
}

// copyFile writes the records of f from offset on; done reports the byte limit was hit.
func (s *stream) copyFile(f *os.File, offset int64) (bool, error) {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return false, fmt.Errorf("seek log: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && (err == nil || errors.Is(err, io.EOF)) && bytes.HasSuffix(line, []byte("\n")) {
			if done, werr := s.record(line); werr != nil || done {
				return done, werr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, fmt.Errorf("read log: %w", err)
		}
	}
}

// record handles one full line of the log file.
func (s *stream) record(line []byte) (bool, error) {
	e, full, err := Parse(line)
	if err != nil {
		return false, nil
	}
	if !s.o.Since.IsZero() && e.Time.Before(s.o.Since) {
		return false, nil
	}
	if s.partial.Len() == 0 {
		s.partialTime = e.Time
	}
	s.partial.Write(e.Text)
	if !full {
		return false, nil
	}
	out := s.partial.Bytes()
	if s.o.Timestamps {
		out = append([]byte(s.partialTime.UTC().Format(time.RFC3339Nano)+" "), out...)
	}
	s.partial.Reset()
	return s.w.write(out)
}

// follow reads the current file from offset; with Follow it waits for more,
// moving to the new file when the runtime reopens it after a rotation.
func (s *stream) follow(ctx context.Context, path string, offset int64, stillRunning func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer func() { f.Close() }()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return fmt.Errorf("seek log: %w", err)
	}
	flusher, _ := s.w.w.(interface{ Flush() })
	r := bufio.NewReaderSize(f, 64<<10)
	var pending []byte // a line read before its end was written
	for {
		chunk, err := r.ReadBytes('\n')
		pending = append(pending, chunk...)
		if err == nil {
			line := pending
			pending = nil
			if done, werr := s.record(line); werr != nil || done {
				return werr
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("read log: %w", err)
		}
		if !s.o.Follow {
			return nil
		}
		if flusher != nil {
			flusher.Flush()
		}
		if rotated(f, path) {
			next, err := os.Open(path)
			if err == nil {
				f.Close()
				f, r, pending = next, bufio.NewReaderSize(next, 64<<10), nil
				continue
			}
		}
		if stillRunning != nil && !stillRunning() {
			// One more pass: the runtime may have written the last lines
			// just before the container exited.
			if more, _ := r.Peek(1); len(more) == 0 {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rotated reports whether path now names another file than f.
func rotated(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(a, b)
}

// tailOffset returns the offset of the n-th last full line of f (not older
// than since), reading the file backwards in blocks, and how many full lines
// follow that offset. An offset of 0 with found < n means the file holds
// fewer lines.
func tailOffset(f *os.File, n int64, since time.Time) (int64, int64, error) {
	if n < 0 {
		return 0, 0, nil
	}
	info, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("stat log: %w", err)
	}
	size := info.Size()
	const block = 32 << 10
	var buf []byte
	pos := size
	for pos > 0 {
		readSize := int64(block)
		if pos < readSize {
			readSize = pos
		}
		pos -= readSize
		chunk := make([]byte, readSize)
		if _, err := f.ReadAt(chunk, pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, 0, fmt.Errorf("read log: %w", err)
		}
		buf = append(chunk, buf...)
		if int64(bytes.Count(buf, []byte(" F ")))+1 > n+1 {
			break
		}
	}
	// Walk lines from the end, counting full records.
	lines := bytes.SplitAfter(buf, []byte("\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	offset := size
	var count int64
	for i := len(lines) - 1; i >= 0; i-- {
		e, full, err := Parse(lines[i])
		if err == nil && !since.IsZero() && e.Time.Before(since) {
			// Older lines are not wanted: stop here, as if the file began here.
			return offset, n, nil
		}
		if err == nil && full {
			if count == n {
				break
			}
			count++
		}
		offset -= int64(len(lines[i]))
	}
	if offset > 0 {
		return offset, n, nil
	}
	return 0, count, nil
}

type limitWriter struct {
	w         io.Writer
	remaining int64 // -1: no limit
}

// write writes b, cut at the byte limit; done reports the limit is reached.
func (l *limitWriter) write(b []byte) (done bool, err error) {
	if l.remaining >= 0 && int64(len(b)) >= l.remaining {
		_, err = l.w.Write(b[:l.remaining])
		l.remaining = 0
		return true, err
	}
	if l.remaining > 0 {
		l.remaining -= int64(len(b))
	}
	_, err = l.w.Write(b)
	return false, err
}
