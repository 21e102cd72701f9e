package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Daemon is a running private containerd, restarted if it dies until the
// context given to Start ends.
type Daemon struct {
	cfg    Config
	binary string
	log    *slog.Logger
	done   chan struct{}
}

// Start renders the config, stops a containerd left over by an earlier agent
// process on the same data dir, starts containerd and waits until its socket
// answers. Pods keep running across this: their shims are separate processes
// that the new containerd reconnects to.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Daemon, error) {
	binary, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("containerd is not installed (run hack/setup.sh): %w", err)
	}
	for _, dir := range []string{cfg.Dir, cfg.RootDir(), cfg.StateDir(), cfg.CNIConfDir} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if err := os.WriteFile(cfg.ConfigPath(), []byte(Render(cfg)), 0o600); err != nil {
		return nil, fmt.Errorf("write containerd config: %w", err)
	}
	d := &Daemon{cfg: cfg, binary: binary, log: log, done: make(chan struct{})}
	d.stopStale()
	p, err := d.spawn()
	if err != nil {
		return nil, err
	}
	if err := waitSocket(ctx, cfg.Address(), p.exited, 30*time.Second); err != nil {
		_ = p.cmd.Process.Kill()
		return nil, fmt.Errorf("containerd did not come up (see %s): %w", d.logPath(), err)
	}
	go d.supervise(ctx, p)
	return d, nil
}

// Address is the gRPC/CRI socket.
func (d *Daemon) Address() string { return d.cfg.Address() }

// Done is closed once containerd has stopped after the context ended.
func (d *Daemon) Done() <-chan struct{} { return d.done }

func (d *Daemon) pidPath() string { return filepath.Join(d.cfg.Dir, "containerd.pid") }
func (d *Daemon) logPath() string { return filepath.Join(d.cfg.Dir, "containerd.log") }

// process is one run of containerd; exited is closed when it ends.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

func (d *Daemon) spawn() (*process, error) {
	logFile, err := os.OpenFile(d.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open containerd log: %w", err)
	}
	cmd := exec.Command(d.binary, "--config", d.cfg.ConfigPath())
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// containerd dies with the agent (a restarted agent starts a fresh one);
	// the shims are in their own sessions and keep the pods running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	_ = os.WriteFile(d.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// supervise restarts containerd when it exits on its own, with a growing
// delay, and stops it when ctx ends.
func (d *Daemon) supervise(ctx context.Context, p *process) {
	defer close(d.done)
	delay := time.Second
	for {
		select {
		case <-ctx.Done():
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
			}
			_ = os.Remove(d.pidPath())
			return
		case <-p.exited:
			d.log.Error("containerd exited; restarting", "err", p.err, "delay", delay, "log", d.logPath())
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, 30*time.Second)
			next, err := d.spawn()
			if err != nil {
				d.log.Error("restart containerd", "err", err)
				continue
			}
			p = next
			if err := waitSocket(ctx, d.cfg.Address(), p.exited, 30*time.Second); err == nil {
				delay = time.Second
			}
		}
	}
}

// stopStale ends a containerd that an earlier agent process started on this
// data dir and that is still running (for instance after the agent was
// killed before its death signal reached containerd).
func (d *Daemon) stopStale() {
	data, err := os.ReadFile(d.pidPath())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	if err != nil || pid <= 0 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(d.cfg.ConfigPath())) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func waitSocket(ctx context.Context, address string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("unix", address, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("socket %s: %w", address, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("containerd exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
