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

// Write copies the log at path to w. With Follow it keeps reading new
// records until stillRunning reports false (and the file is drained) or
// ctx ends.
func Write(ctx context.Context, w io.Writer, path string, o Options, stillRunning func() bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer f.Close()

	var start int64
	if o.TailLines != nil {
		if start, err = tailOffset(f, *o.TailLines, o.Since); err != nil {
			return err
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("seek log: %w", err)
	}
	lw := &limitWriter{w: w, remaining: -1}
	if o.LimitBytes != nil {
		lw.remaining = *o.LimitBytes
	}
	flusher, _ := w.(interface{ Flush() })
	r := bufio.NewReaderSize(f, 64<<10)
	var pending []byte // a partial line read before its end was written
	var partial bytes.Buffer
	var partialTime time.Time
	for {
		chunk, err := r.ReadBytes('\n')
		if len(chunk) > 0 {
			pending = append(pending, chunk...)
		}
		if err == nil {
			line := pending
			pending = nil
			e, full, perr := Parse(line)
			if perr != nil {
				continue
			}
			if !o.Since.IsZero() && e.Time.Before(o.Since) {
				continue
			}
			if partial.Len() == 0 {
				partialTime = e.Time
			}
			partial.Write(e.Text)
			if !full {
				continue
			}
			out := partial.Bytes()
			if o.Timestamps {
				out = append([]byte(partialTime.UTC().Format(time.RFC3339Nano)+" "), out...)
			}
			partial.Reset()
			if done, werr := lw.write(out); werr != nil || done {
				return werr
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("read log: %w", err)
		}
		if !o.Follow {
			return nil
		}
		if flusher != nil {
			flusher.Flush()
		}
		running := stillRunning == nil || stillRunning()
		if !running {
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

// tailOffset returns the offset of the n-th last full line (not older than
// since), reading the file backwards in blocks.
func tailOffset(f *os.File, n int64, since time.Time) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	info, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat log: %w", err)
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
			return 0, fmt.Errorf("read log: %w", err)
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
			break
		}
		if err == nil && full {
			if count == n {
				break
			}
			count++
		}
		offset -= int64(len(lines[i]))
	}
	return offset, nil
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
