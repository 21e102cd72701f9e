// Package framework starts real skiff processes for end-to-end tests: a `skiff server` on a
// temporary data dir, simulated-node agents, and the embedded kubectl.
package framework

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Options shape a test server.
type Options struct {
	// Agent runs the real node agent inside the server (needs root and containerd).
	Agent bool
	// ExtraArgs are appended to `skiff server`.
	ExtraArgs []string
	// DataDir reuses a data dir; default: a fresh temporary one.
	DataDir string
}

// Server is a running `skiff server`.
type Server struct {
	URL        string
	DataDir    string
	Kubeconfig string
	Token      string
	Config     *rest.Config
	Client     kubernetes.Interface

	t    *testing.T
	opts Options
	port int
	cmd  *exec.Cmd
	done chan struct{}
	log  string
	// readyCountSeen counts the ready lines earlier starts wrote to the shared log.
	readyCountSeen int
	// portRetries counts first starts retried on another port.
	portRetries int
}

// Process is a helper process such as a simulated-node agent.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Stop kills the process (SIGKILL, as a crash would) and waits for it.
func (p *Process) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// Main runs a test binary's tests and then removes the skiff binary Binary built for them
// (a hundred megabytes a run that would otherwise pile up in the temp dir).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	return code
}

// Binary returns the path of a skiff binary: $SKIFF_BIN, or one built once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SKIFF_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		binPath = filepath.Join(dir, "skiff")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/skiff")
		cmd.Dir = RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build skiff: %v", buildErr)
	}
	return binPath
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// SharedDir is ../shared beside the repository (tutorial manifests and examples).
func SharedDir() string {
	if d := os.Getenv("SKIFF_SHARED"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "..", "shared")
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a server and stops it when the test ends.
func Start(t *testing.T, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, opts: opts, DataDir: opts.DataDir, port: FreePort(t)}
	if s.DataDir == "" {
		s.DataDir = t.TempDir()
	}
	s.Kubeconfig = filepath.Join(s.DataDir, "kubeconfig.yaml")
	s.URL = "https://127.0.0.1:" + strconv.Itoa(s.port)
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	args := []string{"server", "--data-dir", s.DataDir, "--https-port", strconv.Itoa(s.port)}
	if !s.opts.Agent {
		args = append(args, "--disable-agent")
	}
	args = append(args, s.opts.ExtraArgs...)
	s.log = filepath.Join(s.DataDir, "server.log")
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("server log: %v", err)
	}
	s.cmd = exec.Command(Binary(t), args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start skiff server: %v", err)
	}
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if data, err := os.ReadFile(s.log); err == nil && strings.Contains(string(data), "skiff server ready") &&
			strings.Count(string(data), "skiff server ready") > s.readyCount() {
			break
		}
		select {
		case <-s.done:
			// The port was free when picked, but another test's process may have taken it
			// since: a first start picks another.
			if s.readyCountSeen == 0 && s.portRetries < 3 && strings.Contains(s.LogTail(5), "address already in use") {
				s.portRetries++
				s.port = FreePort(t)
				s.URL = "https://127.0.0.1:" + strconv.Itoa(s.port)
				s.start()
				return
			}
			t.Fatalf("skiff server exited early:\n%s", s.LogTail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("skiff server not ready after 60s:\n%s", s.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.readyCountSeen++
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	s.Config = cfg
	if s.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatalf("client: %v", err)
	}
	tok, err := os.ReadFile(filepath.Join(s.DataDir, "token"))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	s.Token = strings.TrimSpace(string(tok))
}

func (s *Server) readyCount() int { return s.readyCountSeen }

func (s *Server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	if s.t.Failed() {
		s.t.Logf("server log tail:\n%s", s.LogTail(60))
	}
}

// Restart stops the server and starts it again on the same data dir and port.
func (s *Server) Restart(t *testing.T) {
	t.Helper()
	s.stop()
	s.start()
}

// LogTail returns the last n lines of the server's log.
func (s *Server) LogTail(n int) string {
	data, _ := os.ReadFile(s.log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Kubectl runs the embedded kubectl against this server and returns its combined output.
func (s *Server) Kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return s.KubectlWithInput(t, "", args...)
}

// KubectlWithInput runs kubectl with stdin.
func (s *Server) KubectlWithInput(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), append([]string{"kubectl", "--kubeconfig", s.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// MustKubectl runs kubectl and fails the test on error.
func (s *Server) MustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.Kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Simulate starts `skiff agent --simulate` against this server.
func (s *Server) Simulate(t *testing.T, args ...string) *Process {
	t.Helper()
	full := append([]string{"agent", "--server", s.URL, "--token", s.Token}, args...)
	cmd := exec.Command(Binary(t), full...)
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("agent log: %v", err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start agent: %v", err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("agent log:\n%s", tail(string(data), 40))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ExpectOutput fails the test unless out contains every one of wants.
func ExpectOutput(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("output lacks %q:\n%s", w, out)
		}
	}
}

// Eventually polls cond every interval until it returns true or timeout passes.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}
