// Package procmem returns memory a long-running skiff process touched only while starting.
//
// skiff is one large binary (API server, etcd, kubectl, agent). Go runs every package's
// init function at start, whichever subcommand runs, and the kernel maps each touched code
// page together with its neighbours (fault-around, large page-cache folios). A `skiff agent`
// therefore starts with ~95 MiB of the executable resident; once idle it touches again
// about 70 MiB of it at that granularity (measured on Linux 6.18). Those pages are clean,
// file-backed and shared with every other skiff process through the page cache, so
// dropping this process's mappings of them loses nothing: code the process runs later
// faults back in from the page cache.
package procmem

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Mapping is one line of /proc/self/maps that procmem may release.
type Mapping struct {
	Start, End uint64
	Perms      string
	Path       string
}

// ReleaseExecutablePages drops this process's resident pages of its own executable's
// read-only mappings (code, read-only data, symbol tables). Writable mappings (.data) and
// mappings holding modified pages (the dynamic loader's relocations, made read-only
// afterwards) are never touched: their private copies would be lost.
// It returns the number of bytes of mappings advised.
func ReleaseExecutablePages() (uint64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("find executable: %w", err)
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("read mappings: %w", err)
	}
	defer f.Close()
	maps, err := CleanMappingsOf(f, exe)
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, m := range maps {
		// MADV_DONTNEED on a private, never-written file mapping only unmaps the pages; a
		// later access maps the page cache's copy again.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(m.Start), uintptr(m.End-m.Start), unix.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("madvise %x-%x %s: %w", m.Start, m.End, m.Perms, errno)
		}
		total += m.End - m.Start
	}
	return total, nil
}

// CleanMappingsOf parses a /proc/PID/smaps listing and returns the private mappings of
// path that are not writable and hold no anonymous (modified) pages.
func CleanMappingsOf(r io.Reader, path string) ([]Mapping, error) {
	var out []Mapping
	var cur *Mapping // the mapping whose fields are being read, if it is a candidate
	keep := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	s := bufio.NewScanner(r)
	for s.Scan() {
		line := s.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping header: address perms offset dev inode [path]
			keep()
			if len(f) < 6 || strings.Join(f[5:], " ") != path {
				continue
			}
			perms := f[1]
			if len(perms) != 4 || perms[1] == 'w' || perms[3] != 'p' {
				continue
			}
			lo, hi, ok := strings.Cut(f[0], "-")
			if !ok {
				return nil, fmt.Errorf("mapping %q: bad address range", line)
			}
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || end <= start {
				return nil, fmt.Errorf("mapping %q: bad address range", line)
			}
			cur = &Mapping{Start: start, End: end, Perms: perms, Path: path}
			continue
		}
		if cur != nil && f[0] == "Anonymous:" && len(f) >= 2 && f[1] != "0" {
			cur = nil // written once (relocations): the private copy must stay
		}
	}
	keep()
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read mappings: %w", err)
	}
	return out, nil
}

// SettleAfter waits until the process has settled after start (caches filled, informers
// synced), then returns the start-up heap to the OS and releases the executable's start-up
// pages. Errors are reported to logf; a process that cannot release pages still runs.
func SettleAfter(ctx context.Context, delay time.Duration, logf func(format string, args ...any)) {
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return
	}
	// Start-up (OpenAPI rendering, caches, informer syncs) leaves freed heap the runtime
	// would hand back only slowly.
	debug.FreeOSMemory()
	if _, err := ReleaseExecutablePages(); err != nil {
		logf("release start-up pages: %v", err)
	}
}

// DropFileCache writes back and evicts path's unmapped pages from the page cache. A binary
// just written by `go build` or `install` sits in the page cache in large folios, and the
// kernel maps a whole folio into a process on its first touch: a skiff process started from
// such a file counts several times more of the executable in its RSS than one started from
// a binary read back from disk (after a reboot, or after this call). Benchmarks call it so
// that they measure the latter, which is how an installed binary runs.
func DropFileCache(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("drop page cache of %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write back %s: %w", path, err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop page cache of %s: %w", path, err)
	}
	return nil
}
