// Command controlplane benchmarks `skiff server` with simulated nodes and prints the figures of
// issue 3: time for Deployments of 1,000 and 5,000 replicas on 100 nodes to be Running, and the
// server's CPU while 5,000 simulated nodes heartbeat.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"crypto/tls"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/bench/internal/procstat"
)

func main() {
	bin := flag.String("skiff", "", "skiff binary (default: build ./cmd/skiff)")
	nodes := flag.Int("nodes", 100, "simulated nodes for the Deployment runs")
	sizes := flag.String("replicas", "1000,5000", "Deployment sizes to time")
	heartbeatNodes := flag.Int("heartbeat-nodes", 5000, "simulated nodes for the heartbeat CPU figure (0 skips)")
	flag.Parse()
	if err := run(*bin, *nodes, *sizes, *heartbeatNodes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type proc struct{ cmd *exec.Cmd }

func (p *proc) stop() { _ = p.cmd.Process.Signal(syscall.SIGTERM); _ = p.cmd.Wait() }

func spawn(bin string, logPath string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd}, nil
}

// cpuSeconds is the user+system CPU time a process has used.
func cpuSeconds(pid int) float64 { return procstat.CPU(pid).Seconds() }

func waitReady(port int) error {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness probe
	for i := 0; i < 600; i++ {
		if resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", port)); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server not ready")
}

func run(bin string, nodes int, sizes string, heartbeatNodes int) error {
	if bin == "" {
		dir, _ := os.MkdirTemp("", "skiff-bench")
		bin = filepath.Join(dir, "skiff")
		b := exec.Command("go", "build", "-o", bin, "./cmd/skiff")
		b.Stdout, b.Stderr = os.Stderr, os.Stderr
		if err := b.Run(); err != nil {
			return err
		}
	}
	dir, _ := os.MkdirTemp("", "skiff-bench-cp")
	defer os.RemoveAll(dir)
	port := 20000 + os.Getpid()%20000
	srv, err := spawn(bin, filepath.Join(dir, "server.log"), "server", "--data-dir", dir, "--https-port", strconv.Itoa(port), "--disable-agent")
	if err != nil {
		return err
	}
	defer srv.stop()
	if err := waitReady(port); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig.yaml"))
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	token, _ := os.ReadFile(filepath.Join(dir, "token"))
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	sim, err := spawn(bin, filepath.Join(dir, "sim.log"), "agent", "--server", url, "--token", strings.TrimSpace(string(token)),
		"--simulate", strconv.Itoa(nodes), "--cpu", "32", "--memory", "256Gi", "--pods", "200")
	if err != nil {
		return err
	}
	ctx := context.Background()
	for {
		l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) >= nodes {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range strings.Split(sizes, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		d, err := timeDeployment(ctx, cs, fmt.Sprintf("bench-%d", n), n)
		if err != nil {
			return err
		}
		fmt.Printf("Deployment of %d replicas on %d simulated nodes -> all Running: %.2f s\n", n, nodes, d.Seconds())
		if err := cs.AppsV1().Deployments("default").Delete(ctx, fmt.Sprintf("bench-%d", n), metav1.DeleteOptions{}); err != nil {
			return err
		}
		for {
			l, _ := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if len(l.Items) == 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	sim.stop()
	if heartbeatNodes > 0 {
		hb, err := spawn(bin, filepath.Join(dir, "sim-hb.log"), "agent", "--server", url, "--token", strings.TrimSpace(string(token)),
			"--simulate", strconv.Itoa(heartbeatNodes), "--node-name-prefix", "hb-", "--heartbeat-interval", "10s")
		if err != nil {
			return err
		}
		defer hb.stop()
		t0 := time.Now()
		for {
			l, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err == nil && len(l.Items) >= heartbeatNodes+nodes {
				break
			}
			if time.Since(t0) > 5*time.Minute {
				return fmt.Errorf("only %d nodes registered", len(l.Items))
			}
			time.Sleep(500 * time.Millisecond)
		}
		fmt.Printf("%d simulated nodes registered in %.1f s\n", heartbeatNodes, time.Since(t0).Seconds())
		time.Sleep(15 * time.Second) // let registration settle into steady heartbeats
		c0, w0 := cpuSeconds(srv.cmd.Process.Pid), time.Now()
		s0 := cpuSeconds(hb.cmd.Process.Pid)
		time.Sleep(30 * time.Second)
		used := (cpuSeconds(srv.cmd.Process.Pid) - c0) / time.Since(w0).Seconds()
		simUsed := (cpuSeconds(hb.cmd.Process.Pid) - s0) / time.Since(w0).Seconds()
		fmt.Printf("%d simulated nodes heartbeating every 10 s: server CPU %.2f cores (simulator %.2f cores)\n", heartbeatNodes, used, simUsed)
	}
	return nil
}

func timeDeployment(ctx context.Context, cs kubernetes.Interface, name string, replicas int) (time.Duration, error) {
	w, err := cs.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	r := int32(replicas)
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{Replicas: &r,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}}}
	t0 := time.Now()
	if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	running := map[string]bool{}
	timeout := time.After(5 * time.Minute)
	for len(running) < replicas {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("watch closed at %d running", len(running))
			}
			if ev.Type == watch.Error {
				return 0, fmt.Errorf("watch error")
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && p.Status.Phase == corev1.PodRunning && ev.Type != watch.Deleted {
				running[p.Name] = true
			}
		case <-timeout:
			return 0, fmt.Errorf("only %d of %d Running after 5 minutes", len(running), replicas)
		}
	}
	return time.Since(t0), nil
}
