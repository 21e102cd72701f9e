package pause

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestBinaryArchitectures(t *testing.T) {
	for _, tc := range []struct {
		arch    string
		machine byte
		wantErr bool
	}{
		{arch: "amd64", machine: 0x3e},
		{arch: "arm64", machine: 0xb7},
		{arch: "riscv64", wantErr: true},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			bin, err := Binary(tc.arch)
			if tc.wantErr {
				if err == nil {
					t.Fatal("want an error for an unsupported architecture")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(bin[:4]) != "\x7fELF" || bin[18] != tc.machine {
				t.Fatalf("not an ELF for machine %#x: % x", tc.machine, bin[:20])
			}
			if len(bin) > 512 {
				t.Errorf("pause binary is %d bytes; expected a few hundred", len(bin))
			}
			if tc.arch == "arm64" && (len(bin)-headerSize)%4 != 0 {
				t.Errorf("arm64 code is not a whole number of instructions")
			}
		})
	}
}

// TestPauseRuns executes the program for this machine: it must keep running
// through SIGCHLD (its reaper returns) and exit 0 on SIGTERM and SIGINT.
func TestPauseRuns(t *testing.T) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		t.Skipf("pause runs on linux/amd64 and linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	bin, err := Binary(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(path)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			time.Sleep(50 * time.Millisecond)
			_ = cmd.Process.Signal(syscall.SIGCHLD)
			select {
			case err := <-done:
				t.Fatalf("pause exited on SIGCHLD: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			_ = cmd.Process.Signal(sig)
			select {
			case err := <-done:
				var exitErr *exec.ExitError
				if errors.As(err, &exitErr) {
					t.Fatalf("pause exited with %v on %v; want 0", exitErr, sig)
				} else if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("pause did not exit on %v", sig)
			}
		})
	}
}
