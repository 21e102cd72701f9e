// Command podstart measures how fast skiff's node agent starts pods on a
// real containerd, against raw CRI calls to the same containerd in the same
// run:
//
//   - raw CRI start: RunPodSandbox + CreateContainer + StartContainer, median of -n;
//   - pod start: create → Running seen through a watch, -n pods one at a time,
//     median; raw starts and pod starts alternate so both meet the same load;
//   - burst: -burst pods created at once, time until all are Running, once
//     beside the -n pods and -bursts times on an idle node (median), each
//     after the machine's CPU has settled below 10% busy;
//   - agent RSS idle, with containerd (and its shims) counted separately.
//
// It needs root and hack/setup.sh's packages, builds skiff (or uses
// $SKIFF_BIN) and runs `skiff server --disable-agent` plus a separate
// `skiff agent` so the agent's memory is its own.
//
//	go run ./bench/podstart [-n 50] [-burst 30] [-bursts 3]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/bench/internal/procstat"
	"github.com/skiff-sh/skiff/internal/agent/cri"
	"github.com/skiff-sh/skiff/internal/agent/images"
	"github.com/skiff-sh/skiff/internal/agent/testimage"
	"github.com/skiff-sh/skiff/internal/procmem"
)

func main() {
	n := flag.Int("n", 50, "pods started one at a time (and raw CRI starts)")
	burst := flag.Int("burst", 30, "pods created at once")
	bursts := flag.Int("bursts", 3, "bursts on an idle node (the median is printed)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("podstart: needs root (containerd, CNI, cgroups); skipped")
		return
	}
	if err := run(*n, *burst, *bursts); err != nil {
		fmt.Fprintln(os.Stderr, "podstart:", err)
		os.Exit(1)
	}
}

type procs struct {
	mu   sync.Mutex
	list []*exec.Cmd
}

func (p *procs) start(log string, name string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.list = append(p.list, cmd)
	p.mu.Unlock()
	return cmd, nil
}

func (p *procs) stop() {
	for i := len(p.list) - 1; i >= 0; i-- {
		cmd := p.list[i]
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
}

func run(n, burst, bursts int) error {
	ctx := context.Background()
	bin, err := skiffBinary()
	if err == nil {
		// Measure memory as an installed binary runs, not as one just written by the linker.
		err = procmem.DropFileCache(bin)
	}
	if err != nil {
		return err
	}
	procstat.PrintSpeedIndex("before")
	defer procstat.PrintSpeedIndex("after")
	dir, err := os.MkdirTemp("", "skiff-podstart")
	if err != nil {
		return err
	}
	if os.Getenv("PODSTART_KEEP") != "" {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	serverDir, agentDir := filepath.Join(dir, "server"), filepath.Join(dir, "node")
	if err := os.MkdirAll(images.AutoImportDir(agentDir), 0o755); err != nil {
		return err
	}
	if err := testimage.Build(ctx, filepath.Join(images.AutoImportDir(agentDir), "testapp.tar")); err != nil {
		return err
	}

	var ps procs
	defer ps.stop()
	port, err := freePort()
	if err != nil {
		return err
	}
	serverCmd, err := ps.start(filepath.Join(dir, "server.log"), bin, "server", "--data-dir", serverDir, "--https-port", strconv.Itoa(port),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--disable-agent")
	if err != nil {
		return err
	}
	kubeconfig := filepath.Join(serverDir, "kubeconfig.yaml")
	if err := waitFor(60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(serverDir, "token"))
		return err == nil && exists(kubeconfig)
	}); err != nil {
		return fmt.Errorf("server did not start: %w (log %s)", err, filepath.Join(dir, "server.log"))
	}
	time.Sleep(500 * time.Millisecond)
	token, err := os.ReadFile(filepath.Join(serverDir, "token"))
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = -1, 1000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	agentPort, err := freePort()
	if err != nil {
		return err
	}
	agentCmd, err := ps.start(filepath.Join(dir, "agent.log"), bin, "agent", "--server", fmt.Sprintf("https://127.0.0.1:%d", port),
		"--token", strings.TrimSpace(string(token)), "--data-dir", agentDir, "--node-name", "bench", "--node-ip", "127.0.0.1",
		"--port", strconv.Itoa(agentPort))
	if err != nil {
		return err
	}
	if err := waitNodeReady(ctx, client, "bench"); err != nil {
		return fmt.Errorf("%w (agent log %s)", err, filepath.Join(dir, "agent.log"))
	}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	// Idle means settled: the agent releases its start-up memory 10 s after it starts.
	time.Sleep(12 * time.Second)
	agentIdle, agentIdleAnon := procstat.RSSMiB(agentCmd.Process.Pid), procstat.AnonMiB(agentCmd.Process.Pid)
	containerdPid := pidFromFile(filepath.Join(agentDir, "containerd", "containerd.pid"))
	containerdIdle := procstat.RSSMiB(containerdPid)

	rt, err := cri.Dial(ctx, images.SocketPath(agentDir))
	if err != nil {
		return err
	}
	defer rt.Close()
	// Raw starts and pod starts alternate, so both see the same background load.
	var raw, podLatencies []time.Duration
	for i := 0; i < n; i++ {
		r, err := rawCRI(ctx, rt, agentDir, 1)
		if err != nil {
			return fmt.Errorf("raw CRI: %w", err)
		}
		p, err := startPod(ctx, client, fmt.Sprintf("seq-%d", i))
		if err != nil {
			return err
		}
		raw, podLatencies = append(raw, r...), append(podLatencies, p)
	}
	// Bursts: first beside the n pods still running, then on an otherwise
	// empty node, raw and skiff alternating. Each starts on a quiet machine:
	// the clean-up of the one before (containerd's snapshot removal, the
	// agent's teardown) must not run inside the next measurement.
	quiet := func() {
		if busy, err := procstat.WaitIdle(ctx, 0.10, 500*time.Millisecond, 30*time.Second); err != nil {
			fmt.Printf("note: %v (%.0f%% busy)\n", err, busy*100)
		}
	}
	quiet()
	rawBurstBusy, err := rawCRIBurst(ctx, rt, agentDir, burst)
	if err != nil {
		return fmt.Errorf("raw CRI burst: %w", err)
	}
	quiet()
	burstBusy, err := burstPods(ctx, client, "busy", burst)
	if err != nil {
		return err
	}
	agentBusy := procstat.RSSMiB(agentCmd.Process.Pid)
	shims := shimRSSMiB(agentDir)
	if err := deleteAllPods(ctx, client); err != nil {
		return err
	}
	var rawBursts, podBursts []time.Duration
	var agentCPU, serverCPU time.Duration // skiff's own CPU time in the idle-node bursts
	for i := 0; i < bursts; i++ {
		quiet()
		r, err := rawCRIBurst(ctx, rt, agentDir, burst)
		if err != nil {
			return fmt.Errorf("raw CRI burst: %w", err)
		}
		quiet()
		agent0, server0 := procstat.CPU(agentCmd.Process.Pid), procstat.CPU(serverCmd.Process.Pid)
		p, err := burstPods(ctx, client, fmt.Sprintf("empty%d", i), burst)
		if err != nil {
			return err
		}
		agentCPU += procstat.CPU(agentCmd.Process.Pid) - agent0
		serverCPU += procstat.CPU(serverCmd.Process.Pid) - server0
		if err := deleteAllPods(ctx, client); err != nil {
			return err
		}
		rawBursts, podBursts = append(rawBursts, r), append(podBursts, p)
	}

	rawMed, podMed := median(raw), median(podLatencies)
	fmt.Printf("raw CRI start (sandbox+create+start), %d runs:   median %4.0f ms  (min %.0f, max %.0f)\n", len(raw), ms(rawMed), ms(minOf(raw)), ms(maxOf(raw)))
	fmt.Printf("pod start (create → Running via watch), %d pods: median %4.0f ms  (min %.0f, max %.0f)\n", len(podLatencies), ms(podMed), ms(minOf(podLatencies)), ms(maxOf(podLatencies)))
	fmt.Printf("skiff overhead over raw CRI (medians):          %+4.0f ms  (target ≤ +100 ms)\n", ms(podMed-rawMed))
	fmt.Printf("%d pods at once on an idle node, all Running:    median %.2f s of %s  (target ≤ 5 s; raw CRI, %d at once: median %.2f s of %s)\n",
		burst, median(podBursts).Seconds(), seconds(podBursts), burst, median(rawBursts).Seconds(), seconds(rawBursts))
	perPod := func(d time.Duration) float64 { return ms(d) / float64(bursts*burst) }
	fmt.Printf("skiff's own CPU per pod in those bursts:         agent %.1f ms, API server %.1f ms (the rest is containerd, shims, runc, CNI)\n",
		perPod(agentCPU), perPod(serverCPU))
	fmt.Printf("%d pods at once beside %d running pods:          %.2f s  (raw CRI, %d at once: %.2f s)\n", burst, n, burstBusy.Seconds(), burst, rawBurstBusy.Seconds())
	fmt.Printf("agent RSS idle: %.1f MiB (target ≤ 40 MiB; private/anonymous %.1f MiB); with %d pods: %.1f MiB\n", agentIdle, agentIdleAnon, n+burst, agentBusy)
	fmt.Printf("containerd RSS idle: %.1f MiB; shims with %d pods: %.1f MiB (counted separately)\n", containerdIdle, n+burst, shims)
	return nil
}

func skiffBinary() (string, error) {
	if p := os.Getenv("SKIFF_BIN"); p != "" {
		return p, nil
	}
	out := filepath.Join(os.TempDir(), "skiff-podstart-bin")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/skiff")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build skiff: %w: %s", err, b)
	}
	return out, nil
}

func waitNodeReady(ctx context.Context, c kubernetes.Interface, name string) error {
	start := time.Now()
	return waitFor(90*time.Second, func() bool {
		node, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		if node.Spec.PodCIDR == "" && time.Since(start) > 5*time.Second {
			// A server without a pod-CIDR allocator: give the node one.
			node.Spec.PodCIDR = "10.42.7.0/24"
			_, _ = c.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

// rawCRIBurst starts n sandboxes with a container each at once through CRI
// and returns the time until all run.
func rawCRIBurst(ctx context.Context, rt *cri.Client, agentDir string, n int) (time.Duration, error) {
	image, err := testImageID(ctx, rt)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	type result struct {
		uid, sandbox string
		err          error
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func() {
			uid := fmt.Sprintf("rawburst-%d-%d", time.Now().UnixNano(), i)
			id, _, err := rawStart(ctx, rt, agentDir, image, uid)
			results <- result{uid, id, err}
		}()
	}
	var all []result
	for i := 0; i < n; i++ {
		all = append(all, <-results)
	}
	elapsed := time.Since(start)
	for _, r := range all {
		if r.err != nil {
			return 0, r.err
		}
		rawRemove(ctx, rt, agentDir, r.uid, r.sandbox)
	}
	return elapsed, nil
}

func testImageID(ctx context.Context, rt *cri.Client) (string, error) {
	img, err := rt.Images.ImageStatus(ctx, &criapi.ImageStatusRequest{Image: &criapi.ImageSpec{Image: testimage.Ref}})
	if err != nil || img.Image == nil {
		return "", fmt.Errorf("test image not imported: %v", err)
	}
	return img.Image.Id, nil
}

// rawCRI starts n sandboxes with one container each straight through CRI,
// one at a time, timing RunPodSandbox + CreateContainer + StartContainer.
func rawCRI(ctx context.Context, rt *cri.Client, agentDir string, n int) ([]time.Duration, error) {
	image, err := testImageID(ctx, rt)
	if err != nil {
		return nil, err
	}
	var out []time.Duration
	for i := 0; i < n; i++ {
		uid := fmt.Sprintf("raw-%d-%d", time.Now().UnixNano(), i)
		id, d, err := rawStart(ctx, rt, agentDir, image, uid)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
		rawRemove(ctx, rt, agentDir, uid, id)
	}
	return out, nil
}

func rawSandboxConfig(agentDir, uid string) *criapi.PodSandboxConfig {
	return &criapi.PodSandboxConfig{
		Metadata:     &criapi.PodSandboxMetadata{Name: "raw", Namespace: "bench", Uid: uid},
		Hostname:     "raw",
		LogDirectory: filepath.Join(agentDir, "raw-logs", uid),
		Linux:        &criapi.LinuxPodSandboxConfig{CgroupParent: "/kubepods/besteffort/pod" + uid},
	}
}

func rawStart(ctx context.Context, rt *cri.Client, agentDir, image, uid string) (string, time.Duration, error) {
	sbCfg := rawSandboxConfig(agentDir, uid)
	start := time.Now()
	sb, err := rt.RunPodSandbox(ctx, &criapi.RunPodSandboxRequest{Config: sbCfg})
	if err != nil {
		return "", 0, err
	}
	ctr, err := rt.CreateContainer(ctx, &criapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, SandboxConfig: sbCfg, Config: &criapi.ContainerConfig{
		Metadata: &criapi.ContainerMetadata{Name: "c"},
		Image:    &criapi.ImageSpec{Image: image},
		Args:     []string{"sleep", "infinity"},
		LogPath:  "c.log",
	}})
	if err != nil {
		return sb.PodSandboxId, 0, err
	}
	if _, err := rt.StartContainer(ctx, &criapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		return sb.PodSandboxId, 0, err
	}
	return sb.PodSandboxId, time.Since(start), nil
}

func rawRemove(ctx context.Context, rt *cri.Client, agentDir, uid, sandboxID string) {
	_, _ = rt.StopPodSandbox(ctx, &criapi.StopPodSandboxRequest{PodSandboxId: sandboxID})
	_, _ = rt.RemovePodSandbox(ctx, &criapi.RemovePodSandboxRequest{PodSandboxId: sandboxID})
	for _, ctrl := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified", ""} {
		_ = os.Remove(filepath.Join("/sys/fs/cgroup", ctrl, "kubepods/besteffort/pod"+uid))
	}
	_ = os.RemoveAll(filepath.Join(agentDir, "raw-logs", uid))
}

func benchPod(name string) *corev1.Pod {
	grace := int64(1)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench"},
		Spec: corev1.PodSpec{
			NodeName:                      "bench",
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{Name: "c", Image: testimage.Ref, Args: []string{"sleep", "infinity"},
				ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
}

// startPod creates a pod and times it from the create call to its Running
// status arriving through a watch.
func startPod(ctx context.Context, c kubernetes.Interface, name string) (time.Duration, error) {
	w, err := c.CoreV1().Pods("bench").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := c.CoreV1().Pods("bench").Create(ctx, benchPod(name), metav1.CreateOptions{}); err != nil {
		w.Stop()
		return 0, err
	}
	if err := waitRunning(w, 60*time.Second); err != nil {
		return 0, fmt.Errorf("pod %s: %w", name, err)
	}
	return time.Since(start), nil
}

func waitRunning(w watch.Interface, timeout time.Duration) error {
	defer w.Stop()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return fmt.Errorf("watch closed")
			}
			if pod, ok := ev.Object.(*corev1.Pod); ok && pod.Status.Phase == corev1.PodRunning {
				return nil
			}
		case <-timer.C:
			return fmt.Errorf("not Running after %s", timeout)
		}
	}
}

// deleteAllPods deletes the bench namespace's pods and waits until they are gone.
func deleteAllPods(ctx context.Context, c kubernetes.Interface) error {
	if err := c.CoreV1().Pods("bench").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("delete pods: %w", err)
	}
	return waitFor(120*time.Second, func() bool {
		l, err := c.CoreV1().Pods("bench").List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	})
}

// burstPods creates n pods at once and returns the time until all run.
func burstPods(ctx context.Context, c kubernetes.Interface, prefix string, n int) (time.Duration, error) {
	w, err := c.CoreV1().Pods("bench").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.CoreV1().Pods("bench").Create(ctx, benchPod(fmt.Sprintf("burst-%s-%d", prefix, i)), metav1.CreateOptions{})
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	running := map[string]bool{}
	timeout := time.After(120 * time.Second)
	for len(running) < n {
		select {
		case ev := <-w.ResultChan():
			if pod, ok := ev.Object.(*corev1.Pod); ok && strings.HasPrefix(pod.Name, "burst-"+prefix+"-") && pod.Status.Phase == corev1.PodRunning {
				running[pod.Name] = true
			}
		case <-timeout:
			return 0, fmt.Errorf("only %d of %d burst pods Running after 120s", len(running), n)
		}
	}
	return time.Since(start), nil
}

// shimRSSMiB sums the RSS of the containerd shims serving agentDir's containerd.
func shimRSSMiB(agentDir string) float64 {
	sock := images.SocketPath(agentDir)
	entries, _ := os.ReadDir("/proc")
	total := 0.0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(string(cmdline), "containerd-shim") && strings.Contains(string(cmdline), sock) {
			total += procstat.RSSMiB(pid)
		}
	}
	return total
}

func pidFromFile(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func minOf(d []time.Duration) time.Duration {
	m := d[0]
	for _, v := range d {
		m = min(m, v)
	}
	return m
}

func maxOf(d []time.Duration) time.Duration {
	m := d[0]
	for _, v := range d {
		m = max(m, v)
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// seconds lists durations in run order, in seconds.
func seconds(d []time.Duration) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = fmt.Sprintf("%.2f", v.Seconds())
	}
	return strings.Join(s, " / ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %s", timeout)
}
