package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const sample = `2024-05-01T10:00:00.000000001Z stdout F line one
2024-05-01T10:00:01.000000000Z stderr F line two
2024-05-01T10:00:02.000000000Z stdout P part
2024-05-01T10:00:02.100000000Z stdout P ial and
2024-05-01T10:00:02.200000000Z stdout F  whole
2024-05-01T10:00:03.000000000Z stdout F line four
`

func ptr(n int64) *int64 { return &n }

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"all", Options{}, "line one\nline two\npartial and whole\nline four\n"},
		{"tail 2", Options{TailLines: ptr(2)}, "partial and whole\nline four\n"},
		{"tail 0", Options{TailLines: ptr(0)}, ""},
		{"tail more than lines", Options{TailLines: ptr(100)}, "line one\nline two\npartial and whole\nline four\n"},
		{"since", Options{Since: time.Date(2024, 5, 1, 10, 0, 1, 500, time.UTC)}, "partial and whole\nline four\n"},
		{"limit bytes", Options{LimitBytes: ptr(12)}, "line one\nlin"},
		{"timestamps", Options{TailLines: ptr(1), Timestamps: true}, "2024-05-01T10:00:03Z line four\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Write(context.Background(), &out, path, tc.o, nil); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestFollowStopsWhenContainerExits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(sample[:len("2024-05-01T10:00:00.000000001Z stdout F line one\n")]), 0o644); err != nil {
		t.Fatal(err)
	}
	running := make(chan bool, 1)
	running <- true
	isRunning := func() bool {
		select {
		case r := <-running:
			running <- r
			return r
		default:
			return false
		}
	}
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Write(context.Background(), &out, path, Options{Follow: true}, isRunning) }()
	time.Sleep(200 * time.Millisecond)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("2024-05-01T10:00:05.000000000Z stdout F later\n")
	f.Close()
	time.Sleep(300 * time.Millisecond)
	<-running
	running <- false
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("follow did not end after the container exited")
	}
	if out.String() != "line one\nlater\n" {
		t.Errorf("got %q", out.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "0.log")
	line := func(s string) string { return "2024-05-01T10:00:00.000000000Z stdout F " + s + "\n" }
	_ = os.WriteFile(path+".20240501-100000.000", []byte(line("a")+line("b")), 0o644)
	_ = os.WriteFile(path+".20240501-100001.000", []byte(line("c")), 0o644)
	_ = os.WriteFile(path, []byte(line("d")+line("e")), 0o644)
	for _, tc := range []struct {
		tail *int64
		want string
	}{
		{nil, "a\nb\nc\nd\ne\n"},
		{ptr(2), "d\ne\n"},
		{ptr(3), "c\nd\ne\n"},
		{ptr(4), "b\nc\nd\ne\n"},
		{ptr(10), "a\nb\nc\nd\ne\n"},
	} {
		var out bytes.Buffer
		if err := Write(context.Background(), &out, path, Options{TailLines: tc.tail}, nil); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("tail %v: got %q, want %q", tc.tail, out.String(), tc.want)
		}
	}

	// Following continues in the new file after a rotation.
	var out syncBuffer
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Write(context.Background(), &out, path, Options{Follow: true, TailLines: ptr(0)}, func() bool {
			select {
			case <-running:
				return false
			default:
				return true
			}
		})
	}()
	time.Sleep(200 * time.Millisecond)
	_ = os.Rename(path, path+".20240501-100002.000")
	_ = os.WriteFile(path, []byte(line("f")), 0o644)
	time.Sleep(300 * time.Millisecond)
	close(running)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out.String() != "f\n" {
		t.Errorf("follow across rotation: %q", out.String())
	}
}
