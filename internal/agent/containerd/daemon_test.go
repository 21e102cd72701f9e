package containerd

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonSupervision starts a private containerd, kills it, and expects
// the supervisor to bring it back; cancelling the context stops it.
func TestDaemonSupervision(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("containerd is not installed (run hack/setup.sh)")
	}
	dir := t.TempDir()
	cfg := Config{Dir: filepath.Join(dir, "containerd"), SandboxImage: "registry.skiff.local/pause:1", CNIBinDir: "/usr/lib/cni", CNIConfDir: filepath.Join(dir, "net.d")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := Start(ctx, cfg, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, d)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if p := readPid(t, d); p != pid && alive(p) && answers(d.Address()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("containerd was not restarted")
		}
		time.Sleep(100 * time.Millisecond)
	}
	restarted := readPid(t, d)
	cancel()
	select {
	case <-d.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("containerd did not stop")
	}
	if alive(restarted) {
		t.Error("containerd still runs after the context ended")
	}
}

func readPid(t *testing.T, d *Daemon) int {
	data, err := os.ReadFile(d.pidPath())
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(data), ") Z ")
}

func answers(addr string) bool {
	c, err := net.DialTimeout("unix", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
