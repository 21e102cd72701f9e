package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/agent/cri"
	"github.com/skiff-sh/skiff/internal/agent/images"
	"github.com/skiff-sh/skiff/internal/agent/testimage"
	"github.com/skiff-sh/skiff/test/e2e/framework"
)

const (
	agentNS      = "agent-e2e"
	agentTimeout = 60 * time.Second
)

// agentRequirements skips unless this machine can run real containers.
func agentRequirements(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: runs a real server with its node agent and containerd")
	}
	if os.Geteuid() != 0 {
		t.Skip("e2e: the node agent needs root (it runs containerd, mounts and iptables)")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("e2e: %s is not installed (run hack/setup.sh)", bin)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		if _, err := os.Stat("/opt/cni/bin/bridge"); err != nil {
			t.Skip("e2e: the CNI plugins are not installed (run hack/setup.sh)")
		}
	}
}

// TestAgent runs real pods through a server's in-process node agent on
// containerd: the "done when" list, in one cluster.
func TestAgent(t *testing.T) {
	agentRequirements(t)
	dataDir := t.TempDir()
	// The test image goes through the auto-import folder read at agent start.
	importDir := images.AutoImportDir(filepath.Join(dataDir, "agent"))
	if err := os.MkdirAll(importDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testimage.Build(context.Background(), filepath.Join(importDir, "testapp.tar")); err != nil {
		t.Fatalf("build test image: %v", err)
	}
	// A pod network and agent port of its own, so a cluster already running on
	// this machine (skiff0, 10.42.0.0/16, port 10250) and this test do not take
	// each other's addresses.
	s := framework.Start(t, framework.Options{Agent: true, DataDir: dataDir,
		ExtraArgs: []string{"--cluster-cidr", agentClusterCIDR, "--pod-bridge", "skiffe2e0",
			"--agent-port", strconv.Itoa(framework.FreePort(t))}})
	c := s.Client
	node := agentWaitNode(t, c)
	t.Cleanup(func() { agentDeleteAll(t, c) })
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: agentNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	agentWaitServiceAccount(t, c)

	t.Run("DeploymentServesHTTP", func(t *testing.T) { testAgentDeployment(t, c) })
	t.Run("TwoContainersShareNetworkAndVolume", func(t *testing.T) { testAgentTwoContainers(t, c, node) })
	t.Run("InitContainersInOrder", func(t *testing.T) { testAgentInitContainers(t, c, node) })
	t.Run("LogsExecPortForward", func(t *testing.T) { testAgentStreaming(t, s, node) })
	t.Run("AttachAndCopy", func(t *testing.T) { testAgentAttachCopy(t, s, node) })
	t.Run("RestartOnKill", func(t *testing.T) { testAgentRestartOnKill(t, c, node) })
	t.Run("LivenessRestart", func(t *testing.T) { testAgentLiveness(t, s, node) })
	t.Run("CrashLoopBackOff", func(t *testing.T) { testAgentCrashLoop(t, s, node) })
	t.Run("OOMKilled", func(t *testing.T) { testAgentOOM(t, c, node) })
	t.Run("Readiness", func(t *testing.T) { testAgentReadiness(t, s, node) })
	t.Run("GRPCProbes", func(t *testing.T) { testAgentGRPCProbes(t, c, node) })
	t.Run("ConfigMapAndSecret", func(t *testing.T) { testAgentConfig(t, s, node) })
	t.Run("SecurityVolumesAndEnv", func(t *testing.T) { testAgentSecurityVolumes(t, s, node) })
	t.Run("GracefulTerminationAndPreStop", func(t *testing.T) { testAgentGracefulStop(t, c, node) })
	t.Run("RegistryPullWithSecret", func(t *testing.T) { testAgentRegistryPull(t, c, node, filepath.Join(importDir, "testapp.tar")) })
	t.Run("AgentRestartKeepsContainers", func(t *testing.T) { testAgentRestart(t, s, node) })
	t.Run("DeleteLeavesNothing", func(t *testing.T) { testAgentCleanup(t, s) })
}

// agentClusterCIDR is the test cluster's pod network, apart from the default one.
const agentClusterCIDR = "10.244.0.0/16"

// cidrWithin tells a CIDR whose network address lies in outer.
func cidrWithin(cidr, outer string) bool {
	ip, _, err := net.ParseCIDR(cidr)
	_, o, oerr := net.ParseCIDR(outer)
	return err == nil && oerr == nil && o.Contains(ip)
}

// agentWaitNode waits for the agent's Ready node, its pod CIDR taken from the
// test's cluster CIDR.
func agentWaitNode(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	var name string
	framework.Eventually(t, agentTimeout, "the agent's node to be Ready", func() (bool, error) {
		nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil || len(nodes.Items) == 0 {
			return false, err
		}
		n := &nodes.Items[0]
		name = n.Name
		if n.Spec.PodCIDR != "" && !cidrWithin(n.Spec.PodCIDR, agentClusterCIDR) {
			t.Fatalf("node %s got pod CIDR %s, outside --cluster-cidr %s", n.Name, n.Spec.PodCIDR, agentClusterCIDR)
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, fmt.Errorf("node %s not ready", n.Name)
	})
	return name
}

// agentWaitServiceAccount gives the namespace controller a moment to make
// the default ServiceAccount that pods are admitted with.
func agentWaitServiceAccount(t *testing.T, c kubernetes.Interface) {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.CoreV1().ServiceAccounts(agentNS).Get(context.Background(), "default", metav1.GetOptions{}); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func agentDeleteAll(t *testing.T, c kubernetes.Interface) {
	ctx := context.Background()
	_ = c.AppsV1().Deployments(agentNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	_ = c.AppsV1().ReplicaSets(agentNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	_ = c.CoreV1().Pods(agentNS).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}, metav1.ListOptions{})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		pods, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("pods still present after cleanup")
}

// agentDelete deletes the pod at once and waits until it is gone.
func agentDelete(t *testing.T, c kubernetes.Interface, name string) {
	t.Helper()
	ctx := context.Background()
	if err := c.CoreV1().Pods(agentNS).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatalf("delete pod %s: %v", name, err)
	}
	framework.Eventually(t, 30*time.Second, "pod "+name+" gone", func() (bool, error) {
		_, err := c.CoreV1().Pods(agentNS).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

func agentPod(name, node string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: agentNS, Labels: map[string]string{"test": name}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers:                    containers,
		},
	}
}

func agentContainer(name string, args ...string) corev1.Container {
	return corev1.Container{Name: name, Image: testimage.Ref, Args: args, ImagePullPolicy: corev1.PullIfNotPresent}
}

func agentCreate(t *testing.T, c kubernetes.Interface, pod *corev1.Pod) {
	t.Helper()
	if _, err := c.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
}

func agentGet(t *testing.T, c kubernetes.Interface, name string) *corev1.Pod {
	t.Helper()
	pod, err := c.CoreV1().Pods(agentNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get pod %s: %v", name, err)
	}
	return pod
}

func agentReady(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// agentWaitPod polls the pod until cond holds.
func agentWaitPod(t *testing.T, c kubernetes.Interface, name, what string, timeout time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	framework.Eventually(t, timeout, fmt.Sprintf("pod %s: %s", name, what), func() (bool, error) {
		var err error
		pod, err = c.CoreV1().Pods(agentNS).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if cond(pod) {
			return true, nil
		}
		return false, fmt.Errorf("phase %s, statuses %s", pod.Status.Phase, agentStatuses(pod))
	})
	return pod
}

func agentStatuses(pod *corev1.Pod) string {
	var parts []string
	for _, s := range pod.Status.ContainerStatuses {
		state := "?"
		switch {
		case s.State.Running != nil:
			state = "running"
		case s.State.Waiting != nil:
			state = "waiting:" + s.State.Waiting.Reason + " " + s.State.Waiting.Message
		case s.State.Terminated != nil:
			state = fmt.Sprintf("terminated:%s(%d)", s.State.Terminated.Reason, s.State.Terminated.ExitCode)
		}
		parts = append(parts, fmt.Sprintf("%s=%s restarts=%d ready=%v", s.Name, state, s.RestartCount, s.Ready))
	}
	return strings.Join(parts, "; ")
}

func agentRunning(pod *corev1.Pod) bool { return pod.Status.Phase == corev1.PodRunning }

func agentRunningReady(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodRunning && agentReady(pod) && pod.Status.PodIP != ""
}

// agentHTTP GETs url and returns the body of a 200 answer. It retries failures
// for 10 s: a container without a readiness probe is Ready as soon as it runs,
// a moment before its program listens (or, behind it, its sidecar does).
func agentHTTP(url string) (body string, err error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if body, err = agentHTTPOnce(url); err == nil || time.Now().After(deadline) {
			return body, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func agentHTTPOnce(url string) (string, error) {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(body), fmt.Errorf("%s: status %d", url, resp.StatusCode)
	}
	return string(body), err
}

func testAgentDeployment(t *testing.T, c kubernetes.Interface) {
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: agentNS},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{
						Name: "web", Image: testimage.Ref, ImagePullPolicy: corev1.PullIfNotPresent,
						Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
					}},
				},
			},
		},
	}
	if _, err := c.AppsV1().Deployments(agentNS).Create(context.Background(), dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	var pods []corev1.Pod
	framework.Eventually(t, 90*time.Second, "3 web pods Running and Ready", func() (bool, error) {
		list, err := c.CoreV1().Pods(agentNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if agentRunningReady(&p) {
				pods = append(pods, p)
			}
		}
		return len(pods) == 3, fmt.Errorf("%d of %d pods running and ready", len(pods), len(list.Items))
	})
	seen := map[string]bool{}
	for _, p := range pods {
		body, err := agentHTTP("http://" + p.Status.PodIP + ":8080/")
		if err != nil {
			t.Fatalf("pod %s at %s does not answer: %v", p.Name, p.Status.PodIP, err)
		}
		if want := "hostname: " + p.Name; !strings.Contains(body, want) {
			t.Errorf("pod %s answered %q, want %q", p.Name, body, want)
		}
		if seen[p.Status.PodIP] {
			t.Errorf("two pods share IP %s", p.Status.PodIP)
		}
		seen[p.Status.PodIP] = true
	}
	if err := c.AppsV1().Deployments(agentNS).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete deployment: %v", err)
	}
}

func testAgentTwoContainers(t *testing.T, c kubernetes.Interface, node string) {
	web := agentContainer("web")
	web.VolumeMounts = []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}
	side := agentContainer("side", "serve", "--port=9090")
	side.VolumeMounts = []corev1.VolumeMount{{Name: "shared", MountPath: "/data"}}
	side.Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"write", "/data/note", "written-by-side"}}}}
	pod := agentPod("duo", node, web, side)
	pod.Spec.Volumes = []corev1.Volume{{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	agentCreate(t, c, pod)
	p := agentWaitPod(t, c, "duo", "running and ready", agentTimeout, agentRunningReady)
	// web reaches side over the pod's localhost.
	body, err := agentHTTP("http://" + p.Status.PodIP + ":8080/get?url=http://127.0.0.1:9090/")
	if err != nil || !strings.Contains(body, "hostname: duo") {
		t.Fatalf("web -> side over localhost: %q, %v", body, err)
	}
	body, err = agentHTTP("http://" + p.Status.PodIP + ":8080/file?path=/shared/note")
	if err != nil || body != "written-by-side" {
		t.Fatalf("file written by side, read by web through the emptyDir: %q, %v", body, err)
	}
}

// testAgentInitContainers: init containers run one at a time, in order, each
// to completion, before the app container; the second reads what the first
// wrote, and with restartPolicy Never an init container that ran too early
// would fail the pod.
func testAgentInitContainers(t *testing.T, c kubernetes.Interface, node string) {
	work := []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}
	first := agentContainer("first", "write", "/work/first", "one")
	second := agentContainer("second", "sh", "-c", "cat /work/first > /work/second")
	web := agentContainer("web")
	first.VolumeMounts, second.VolumeMounts, web.VolumeMounts = work, work, work
	pod := agentPod("init", node, web)
	pod.Spec.InitContainers = []corev1.Container{first, second}
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.Volumes = []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	agentCreate(t, c, pod)
	p := agentWaitPod(t, c, "init", "running and ready", agentTimeout, agentRunningReady)
	body, err := agentHTTP("http://" + p.Status.PodIP + ":8080/file?path=/work/second")
	if err != nil || body != "one" {
		t.Fatalf("file the second init container copied from the first's: %q, %v", body, err)
	}
	if len(p.Status.InitContainerStatuses) != 2 {
		t.Fatalf("init container statuses: %s", agentStatuses(p))
	}
	var finished []*corev1.ContainerStateTerminated
	for i, s := range p.Status.InitContainerStatuses {
		term := s.State.Terminated
		if s.Name != pod.Spec.InitContainers[i].Name || term == nil || term.ExitCode != 0 || term.Reason != "Completed" || s.RestartCount != 0 {
			t.Fatalf("init container %d: %+v, want %s terminated Completed, exit 0, no restarts", i, s, pod.Spec.InitContainers[i].Name)
		}
		finished = append(finished, term)
	}
	if finished[1].StartedAt.Before(&finished[0].FinishedAt) {
		t.Errorf("second init container started at %s, before the first finished at %s", finished[1].StartedAt, finished[0].FinishedAt)
	}
	initialized := false
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodInitialized && cond.Status == corev1.ConditionTrue {
			initialized = true
		}
	}
	if !initialized {
		t.Errorf("pod conditions %+v, want Initialized True", p.Status.Conditions)
	}
}

// testAgentAttachCopy: kubectl attach -i reaches a running container's stdin
// and streams its output back; kubectl cp copies a file in and out (through
// exec and the image's tar).
func testAgentAttachCopy(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	shell := agentContainer("sh", "sh")
	shell.Stdin = true
	agentCreate(t, c, agentPod("attach", node, shell))
	agentWaitPod(t, c, "attach", "running", agentTimeout, agentRunning)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	attach := exec.CommandContext(ctx, framework.Binary(t), "kubectl", "--kubeconfig", s.Kubeconfig, "-n", agentNS, "attach", "-i", "attach", "-c", "sh")
	stdin, err := attach.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out agentSyncBuffer
	attach.Stdout, attach.Stderr = &out, &out
	if err := attach.Start(); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, "a line typed into kubectl attach to be run by the container's shell", func() (bool, error) {
		_, _ = io.WriteString(stdin, "echo attached-ok\n")
		return strings.Contains(out.String(), "attached-ok"), fmt.Errorf("attach output %q", out.String())
	})
	cancel()
	_ = attach.Wait()

	dir := t.TempDir()
	in, back := filepath.Join(dir, "in.txt"), filepath.Join(dir, "back.txt")
	want := "copied through kubectl cp\n"
	if err := os.WriteFile(in, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	s.MustKubectl(t, "-n", agentNS, "cp", in, "attach:/tmp/in.txt", "-c", "sh")
	if got := s.MustKubectl(t, "-n", agentNS, "exec", "attach", "-c", "sh", "--", "cat", "/tmp/in.txt"); got != want {
		t.Errorf("file copied into the pod reads %q, want %q", got, want)
	}
	s.MustKubectl(t, "-n", agentNS, "cp", "attach:/tmp/in.txt", back, "-c", "sh")
	if got, err := os.ReadFile(back); err != nil || string(got) != want {
		t.Errorf("file copied out of the pod: %q, %v; want %q", got, err, want)
	}
}

func testAgentStreaming(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	pod := agentPod("stream", node, agentContainer("web"))
	pod.Spec.Containers[0].Stdin = true
	pod.Spec.Containers[0].TTY = true
	agentCreate(t, c, pod)
	p := agentWaitPod(t, c, "stream", "running", agentTimeout, agentRunningReady)
	if _, err := agentHTTP("http://" + p.Status.PodIP + ":8080/from-the-test"); err != nil {
		t.Fatal(err)
	}

	framework.Eventually(t, 10*time.Second, "logs", func() (bool, error) {
		out, err := s.Kubectl(t, "-n", agentNS, "logs", "stream")
		return err == nil && strings.Contains(out, "listening on :8080") && strings.Contains(out, "GET /from-the-test"), fmt.Errorf("%s %v", out, err)
	})
	out := s.MustKubectl(t, "-n", agentNS, "logs", "stream", "--tail=1", "--timestamps")
	if !strings.Contains(out, "GET /from-the-test") || !strings.Contains(out, "Z ") {
		t.Errorf("logs --tail=1 --timestamps: %q", out)
	}
	// The same through the machine's stock kubectl, a client skiff did not build.
	if stock, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.Command(stock, "--kubeconfig", s.Kubeconfig, "-n", agentNS, "exec", "stream", "--", "hostname")
		if got, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(got)) != "stream" {
			t.Errorf("stock kubectl exec: %q %v", got, err)
		}
	}

	// logs -f streams lines written after it started.
	follow := exec.Command(framework.Binary(t), "kubectl", "--kubeconfig", s.Kubeconfig, "-n", agentNS, "logs", "-f", "stream")
	var followOut agentSyncBuffer
	follow.Stdout, follow.Stderr = &followOut, &followOut
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 15*time.Second, "logs -f to show a new request", func() (bool, error) {
		_, _ = agentHTTP("http://" + p.Status.PodIP + ":8080/followed")
		return strings.Contains(followOut.String(), "GET /followed"), fmt.Errorf("%q", followOut.String())
	})
	_ = follow.Process.Kill()
	_ = follow.Wait()

	out = s.MustKubectl(t, "-n", agentNS, "exec", "stream", "--", "cat", "/etc/hostname")
	if strings.TrimSpace(out) != "stream" {
		t.Errorf("exec cat /etc/hostname = %q, want the pod name", out)
	}
	if _, err := s.Kubectl(t, "-n", agentNS, "exec", "stream", "--", "exit", "3"); err == nil {
		t.Errorf("exec of a failing command must fail")
	}

	// exec -it under a real pty, driven by script(1).
	if _, err := exec.LookPath("script"); err == nil {
		cmdline := fmt.Sprintf("%s kubectl --kubeconfig %s -n %s exec -it stream -- sh", framework.Binary(t), s.Kubeconfig, agentNS)
		cmd := exec.Command("script", "-qfec", cmdline, "/dev/null")
		stdin, _ := cmd.StdinPipe()
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(2 * time.Second)
			_, _ = io.WriteString(stdin, "hostname\n")
			time.Sleep(time.Second)
			_, _ = io.WriteString(stdin, "exit\n")
			time.Sleep(time.Second)
			stdin.Close()
		}()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("exec -it did not finish: %q", buf.String())
		}
		if got := buf.String(); !strings.Contains(got, "$ ") || !strings.Contains(got, "stream\r\n") {
			t.Errorf("exec -it output %q: want a prompt (the container saw a terminal) and the hostname", got)
		}
	}

	// port-forward
	port := framework.FreePort(t)
	pf := exec.Command(framework.Binary(t), "kubectl", "--kubeconfig", s.Kubeconfig, "-n", agentNS, "port-forward", "pod/stream", fmt.Sprintf("%d:8080", port))
	var pfOut bytes.Buffer
	pf.Stdout, pf.Stderr = &pfOut, &pfOut
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
	framework.Eventually(t, 20*time.Second, "port-forward to serve", func() (bool, error) {
		body, err := agentHTTP(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return err == nil && strings.Contains(body, "hostname: stream"), fmt.Errorf("%v (port-forward said %q)", err, pfOut.String())
	})
}

// agentFindProcess returns the host PID of the process whose command line
// contains all of parts.
func agentFindProcess(parts ...string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := string(data)
		match := true
		for _, p := range parts {
			match = match && strings.Contains(cmdline, p)
		}
		if match {
			return pid
		}
	}
	return 0
}

func testAgentRestartOnKill(t *testing.T, c kubernetes.Interface, node string) {
	marker := fmt.Sprintf("--marker=kill-%d", time.Now().UnixNano())
	agentCreate(t, c, agentPod("victim", node, agentContainer("web", "serve", marker)))
	agentWaitPod(t, c, "victim", "running", agentTimeout, agentRunningReady)
	pid := agentFindProcess("serve", marker)
	if pid == 0 {
		t.Fatal("container process not found on the host")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p := agentWaitPod(t, c, "victim", "restarted once and running", agentTimeout, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount == 1 && agentRunningReady(p)
	})
	last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 {
		t.Errorf("last state %+v, want terminated with 137 (SIGKILL)", p.Status.ContainerStatuses[0].LastTerminationState)
	}
}

func testAgentLiveness(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	web := agentContainer("web")
	web.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		InitialDelaySeconds: 1, PeriodSeconds: 1, FailureThreshold: 2,
		// A loaded machine must not fail the probe by slowness: only /tmp/unhealthy does.
		TimeoutSeconds: 5}
	agentCreate(t, c, agentPod("liveness", node, web))
	agentWaitPod(t, c, "liveness", "running", agentTimeout, agentRunningReady)
	s.MustKubectl(t, "-n", agentNS, "exec", "liveness", "--", "touch", "/tmp/unhealthy")
	agentWaitPod(t, c, "liveness", "restarted by its liveness probe", agentTimeout, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	// The new container has a fresh /tmp: it stays healthy.
	time.Sleep(4 * time.Second)
	if p := agentGet(t, c, "liveness"); p.Status.ContainerStatuses[0].RestartCount != 1 {
		t.Errorf("restart count %d after recovery, want 1", p.Status.ContainerStatuses[0].RestartCount)
	}
	agentDelete(t, c, "liveness")
}

func testAgentCrashLoop(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	agentCreate(t, c, agentPod("crasher", node, agentContainer("c", "exit", "1")))
	restartSeen := map[int32]time.Time{}
	sawBackOff := false
	framework.Eventually(t, 60*time.Second, "two restarts with CrashLoopBackOff between them", func() (bool, error) {
		p, err := c.CoreV1().Pods(agentNS).Get(context.Background(), "crasher", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, err
		}
		cs := p.Status.ContainerStatuses[0]
		if _, ok := restartSeen[cs.RestartCount]; !ok {
			restartSeen[cs.RestartCount] = time.Now()
		}
		if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
			sawBackOff = true
		}
		return cs.RestartCount >= 2 && sawBackOff, fmt.Errorf("%s", agentStatuses(p))
	})
	// Restart 1 comes at once, restart 2 only after the 10 s back-off (seen
	// through polls and status writes that may each lag a little).
	if gap := restartSeen[2].Sub(restartSeen[1]); gap < 7*time.Second {
		t.Errorf("second restart %s after the first; want the 10s back-off", gap)
	}
	if out, err := s.Kubectl(t, "-n", agentNS, "logs", "crasher", "--previous"); err != nil || !strings.Contains(out, "exiting with 1") {
		t.Errorf("logs --previous: %q %v", out, err)
	}
	p := agentGet(t, c, "crasher")
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
		t.Errorf("last state %+v, want Error with exit 1", p.Status.ContainerStatuses[0].LastTerminationState)
	}
	// It would go on restarting every 5 minutes at most, also while a later test
	// restarts the agent and counts restarts: done with it.
	agentDelete(t, c, "crasher")
}

func testAgentOOM(t *testing.T, c kubernetes.Interface, node string) {
	hog := agentContainer("hog", "memhog", "256")
	hog.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("48Mi")}
	pod := agentPod("hog", node, hog)
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	agentCreate(t, c, pod)
	// The first terminated state the agent reports is the final one (restartPolicy Never): it
	// must already say OOMKilled, though containerd may see the exit before the OOM event.
	p := agentWaitPod(t, c, "hog", "OOM killed", agentTimeout, func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	term := p.Status.ContainerStatuses[0].State.Terminated
	if term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("terminated %s (%d), want OOMKilled (137)", term.Reason, term.ExitCode)
	}
	agentWaitPod(t, c, "hog", "Failed", agentTimeout, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
}

func testAgentReadiness(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	web := agentContainer("web")
	web.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1, FailureThreshold: 1}
	pod := agentPod("ready", node, web)
	pod.Labels["app"] = "ready"
	agentCreate(t, c, pod)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ready", Namespace: agentNS},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "ready"}, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := c.CoreV1().Services(agentNS).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create service: %v", err)
	}
	p := agentWaitPod(t, c, "ready", "ready", agentTimeout, agentRunningReady)
	ip := p.Status.PodIP
	readyAddress := func() (bool, error) {
		ep, err := c.CoreV1().Endpoints(agentNS).Get(context.Background(), "ready", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, sub := range ep.Subsets {
			for _, a := range sub.Addresses {
				if a.IP == ip {
					return true, nil
				}
			}
		}
		return false, nil
	}
	framework.Eventually(t, 30*time.Second, "the ready pod among the Service's ready endpoints", func() (bool, error) {
		listed, err := readyAddress()
		return listed, fmt.Errorf("%s not a ready address: %v", ip, err)
	})
	s.MustKubectl(t, "-n", agentNS, "exec", "ready", "--", "touch", "/tmp/unready")
	agentWaitPod(t, c, "ready", "not ready", agentTimeout, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && !agentReady(p) && !p.Status.ContainerStatuses[0].Ready
	})
	framework.Eventually(t, 30*time.Second, "the unready pod out of the Service's ready endpoints", func() (bool, error) {
		listed, err := readyAddress()
		return err == nil && !listed, fmt.Errorf("%s still a ready address: %v", ip, err)
	})
	s.MustKubectl(t, "-n", agentNS, "exec", "ready", "--", "rm", "/tmp/unready")
	agentWaitPod(t, c, "ready", "ready again", agentTimeout, agentRunningReady)
}

// testAgentGRPCProbes: grpc probes call the standard gRPC health service; a
// SERVING service makes the pod start and become ready, a NOT_SERVING one
// keeps it running but not ready.
func testAgentGRPCProbes(t *testing.T, c kubernetes.Interface, node string) {
	probe := func(service string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000, Service: ptr.To(service)}},
			PeriodSeconds: 1, FailureThreshold: 1}
	}
	good := agentContainer("web", "serve", "--grpc-port=9000")
	good.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}, PeriodSeconds: 1, FailureThreshold: 30}
	good.ReadinessProbe = probe("app")
	agentCreate(t, c, agentPod("grpc", node, good))
	bad := agentContainer("web", "serve", "--grpc-port=9000")
	bad.ReadinessProbe = probe("broken")
	agentCreate(t, c, agentPod("grpc-broken", node, bad))

	agentWaitPod(t, c, "grpc", "started and ready through gRPC health", agentTimeout, func(p *corev1.Pod) bool {
		s := p.Status.ContainerStatuses
		return agentRunningReady(p) && len(s) == 1 && s[0].Started != nil && *s[0].Started
	})
	agentWaitPod(t, c, "grpc-broken", "running", agentTimeout, agentRunning)
	// Five probe periods later it is still not ready.
	time.Sleep(5 * time.Second)
	if p := agentGet(t, c, "grpc-broken"); agentReady(p) || p.Status.ContainerStatuses[0].Ready {
		t.Fatalf("pod whose gRPC health service is NOT_SERVING is ready: %s", agentStatuses(p))
	}
}

// testAgentSecurityVolumes: runAsUser/runAsGroup, readOnlyRootFilesystem and
// dropped capabilities reach the container; downwardAPI, hostPath, a PVC
// bound to a hostPath PV, a configMap key through subPath, the automounted
// service-account token; resourceFieldRef env; a missing ConfigMap key is
// CreateContainerConfigError.
func testAgentSecurityVolumes(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	ctx := context.Background()
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "from-host"), []byte("host file"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The PV's folder is writable by the pod's non-root user, as an admin would prepare it.
	pvDir := filepath.Join(t.TempDir(), "pv")
	if err := os.Mkdir(pvDir, 0o777); err != nil || os.Chmod(pvDir, 0o777) != nil {
		t.Fatalf("PV folder: %v", err)
	}
	if _, err := c.CoreV1().ConfigMaps(agentNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "files"},
		Data: map[string]string{"app.conf": "mode=sub"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "agent-pv"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: pvDir}},
		ClaimRef:               &corev1.ObjectReference{Namespace: agentNS, Name: "data"},
	}}
	if _, err := c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.CoreV1().PersistentVolumes().Delete(context.Background(), "agent-pv", metav1.DeleteOptions{})
	})
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeName: "agent-pv",
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	if _, err := c.CoreV1().PersistentVolumeClaims(agentNS).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	web := agentContainer("web")
	web.SecurityContext = &corev1.SecurityContext{
		RunAsUser: ptr.To[int64](65534), RunAsGroup: ptr.To[int64](65534),
		ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities:           &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
	}
	web.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}
	web.Env = []corev1.EnvVar{{Name: "MEM_LIMIT", ValueFrom: &corev1.EnvVarSource{
		ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}}}
	web.VolumeMounts = []corev1.VolumeMount{
		{Name: "podinfo", MountPath: "/etc/podinfo"},
		{Name: "host", MountPath: "/host", ReadOnly: true},
		{Name: "data", MountPath: "/data"},
		{Name: "files", MountPath: "/etc/app.conf", SubPath: "app.conf"},
		{Name: "scratch", MountPath: "/tmp"},
	}
	pod := agentPod("secvol", node, web)
	pod.Labels["tier"] = "backend"
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host}}},
		{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
		{Name: "files", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "files"}}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	agentCreate(t, c, pod)
	agentWaitPod(t, c, "secvol", "running and ready", agentTimeout, agentRunningReady)

	exec := func(args ...string) (string, error) {
		return s.Kubectl(t, append([]string{"-n", agentNS, "exec", "secvol", "--"}, args...)...)
	}
	checks := []struct {
		args []string
		want string
	}{
		{[]string{"id"}, "uid=65534 gid=65534"},
		{[]string{"cat", "/etc/podinfo/labels"}, `tier="backend"`},
		{[]string{"cat", "/host/from-host"}, "host file"},
		{[]string{"cat", "/etc/app.conf"}, "mode=sub"},
		{[]string{"env"}, "MEM_LIMIT=64"},
		{[]string{"cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"}, agentNS},
		{[]string{"cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"}, "eyJ"}, // a JWT, not the placeholder
		{[]string{"cat", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"}, "BEGIN CERTIFICATE"},
	}
	for _, ck := range checks {
		if out, err := exec(ck.args...); err != nil || !strings.Contains(out, ck.want) {
			t.Errorf("exec %v = %q, %v; want it to contain %q", ck.args, out, err, ck.want)
		}
	}
	// The CA in the token volume is the one published as kube-root-ca.crt in the namespace.
	rootCA, err := c.CoreV1().ConfigMaps(agentNS).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("kube-root-ca.crt: %v", err)
	}
	if got, err := exec("cat", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"); err != nil || got != rootCA.Data["ca.crt"] {
		t.Errorf("token volume ca.crt %q, %v; want kube-root-ca.crt's %q", got, err, rootCA.Data["ca.crt"])
	}
	// The root file system is read-only; the emptyDir is writable (as 65534).
	if out, err := exec("touch", "/new-file"); err == nil {
		t.Errorf("touch on a read-only root file system succeeded: %q", out)
	}
	if out, err := exec("touch", "/tmp/ok"); err != nil {
		t.Errorf("touch in the emptyDir: %q, %v", out, err)
	}
	// A file written through the PVC lands in the PV's host path.
	if _, err := exec("write", "/data/through-pvc", "persisted"); err != nil {
		t.Errorf("write through the PVC: %v", err)
	} else if got, err := os.ReadFile(filepath.Join(pvDir, "through-pvc")); err != nil || string(got) != "persisted" {
		t.Errorf("PV host path holds %q, %v; want what the pod wrote", got, err)
	}

	broken := agentContainer("web")
	broken.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "files"}, Key: "no-such-key"}}}}
	agentCreate(t, c, agentPod("badenv", node, broken))
	agentWaitPod(t, c, "badenv", "CreateContainerConfigError", agentTimeout, func(p *corev1.Pod) bool {
		st := p.Status.ContainerStatuses
		return len(st) == 1 && st[0].State.Waiting != nil && st[0].State.Waiting.Reason == "CreateContainerConfigError"
	})
}

// testAgentGracefulStop: deleting a pod runs its preStop hook, sends
// SIGTERM, and SIGKILLs a container that ignores it once the grace period
// is over.
func testAgentGracefulStop(t *testing.T, c kubernetes.Interface, node string) {
	ctx := context.Background()
	marker := t.TempDir()
	stubborn := agentContainer("web", "hang")
	stubborn.VolumeMounts = []corev1.VolumeMount{{Name: "marker", MountPath: "/marker"}}
	stubborn.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"write", "/marker/prestop", "ran"}}}}
	pod := agentPod("stubborn", node, stubborn)
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](3)
	pod.Spec.Volumes = []corev1.Volume{{Name: "marker", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: marker}}}}
	agentCreate(t, c, pod)
	agentWaitPod(t, c, "stubborn", "running", agentTimeout, agentRunning)

	start := time.Now()
	if err := c.CoreV1().Pods(agentNS).Delete(ctx, "stubborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, "pod gone", func() (bool, error) {
		_, err := c.CoreV1().Pods(agentNS).Get(ctx, "stubborn", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	took := time.Since(start)
	// It ignores SIGTERM: it ends only at the SIGKILL after the 3 s grace period.
	if took < 3*time.Second || took > 15*time.Second {
		t.Errorf("pod that ignores SIGTERM was gone after %s; want about the 3 s grace period", took)
	}
	if got, err := os.ReadFile(filepath.Join(marker, "prestop")); err != nil || string(got) != "ran" {
		t.Errorf("preStop marker: %q, %v", got, err)
	}
}

// testAgentRegistryPull: an image in a registry that wants credentials is
// pulled (imagePullPolicy Always) with the pod's imagePullSecrets; without
// them the pull fails and the container waits in ErrImagePull/ImagePullBackOff,
// even once the image is on the node.
func testAgentRegistryPull(t *testing.T, c kubernetes.Interface, node, archive string) {
	r := startRegistry(t)
	r.push(t, archive, "skiff/private", "1")
	image := r.addr + "/skiff/private:1"
	ctx := context.Background()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: r.dockerConfigJSON()}}
	if _, err := c.CoreV1().Secrets(agentNS).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := agentContainer("web")
	web.Image, web.ImagePullPolicy = image, corev1.PullAlways
	with := agentPod("pulled", node, web)
	with.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	agentCreate(t, c, with)

	p := agentWaitPod(t, c, "pulled", "running and ready from the registry", agentTimeout, agentRunningReady)
	if s := p.Status.ContainerStatuses[0]; s.Image != image || !strings.Contains(s.ImageID, "sha256:") {
		t.Errorf("container status image %q, imageID %q; want %q and a digest", s.Image, s.ImageID, image)
	}
	if body, err := agentHTTP("http://" + p.Status.PodIP + ":8080/"); err != nil || !strings.Contains(body, "hostname: pulled") {
		t.Errorf("pulled image serving: %q, %v", body, err)
	}
	// Now the image is on the node: a pod without the secret still must not run it.
	agentCreate(t, c, agentPod("unauthorized", node, web))
	agentWaitPod(t, c, "unauthorized", "waiting on a failed pull", agentTimeout, func(p *corev1.Pod) bool {
		if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].State.Waiting == nil {
			return false
		}
		reason := p.Status.ContainerStatuses[0].State.Waiting.Reason
		return reason == "ErrImagePull" || reason == "ImagePullBackOff"
	})
	// ... and stays so through its next pull attempts.
	time.Sleep(3 * time.Second)
	if p := agentGet(t, c, "unauthorized"); p.Status.Phase == corev1.PodRunning {
		t.Fatalf("pod without the pull secret runs the private image: %s", agentStatuses(p))
	}
}

func testAgentConfig(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	ctx := context.Background()
	if _, err := c.CoreV1().ConfigMaps(agentNS).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"GREETING": "hello", "app.conf": "version=1"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().Secrets(agentNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Data: map[string][]byte{"POSTGRES_PASSWORD": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web := agentContainer("web")
	web.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}}
	web.Env = []corev1.EnvVar{
		{Name: "GREETING", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "GREETING"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "MESSAGE", Value: "$(GREETING) from $(POD_NAME)"},
	}
	web.VolumeMounts = []corev1.VolumeMount{{Name: "cfg", MountPath: "/etc/cfg"}, {Name: "db", MountPath: "/etc/db", ReadOnly: true}}
	pod := agentPod("configured", node, web)
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "db", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "db"}}},
	}
	agentCreate(t, c, pod)
	p := agentWaitPod(t, c, "configured", "running", agentTimeout, agentRunningReady)
	base := "http://" + p.Status.PodIP + ":8080"
	for _, check := range []struct{ path, want string }{
		{"/env?name=GREETING", "hello"},
		{"/env?name=POSTGRES_PASSWORD", "s3cret"},
		{"/env?name=MESSAGE", "hello from configured"},
		{"/file?path=/etc/cfg/app.conf", "version=1"},
		{"/file?path=/etc/db/POSTGRES_PASSWORD", "s3cret"},
	} {
		if body, err := agentHTTP(base + check.path); err != nil || body != check.want {
			t.Errorf("%s = %q, %v; want %q", check.path, body, err, check.want)
		}
	}
	s.MustKubectl(t, "-n", agentNS, "patch", "configmap", "cfg", "-p", `{"data":{"app.conf":"version=2"}}`)
	framework.Eventually(t, 30*time.Second, "the ConfigMap update in the mounted file", func() (bool, error) {
		body, err := agentHTTP(base + "/file?path=/etc/cfg/app.conf")
		return body == "version=2", fmt.Errorf("%q %v", body, err)
	})
}

func testAgentRestart(t *testing.T, s *framework.Server, node string) {
	c := s.Client
	agentCreate(t, c, agentPod("survivor", node, agentContainer("web")))
	before := agentWaitPod(t, c, "survivor", "running", agentTimeout, agentRunningReady)
	others, err := c.CoreV1().Pods(agentNS).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type snap struct {
		ip, id   string
		restarts int32
	}
	snapshot := map[string]snap{}
	for _, p := range others.Items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Running == nil {
			continue
		}
		cs := p.Status.ContainerStatuses[0]
		snapshot[p.Name] = snap{p.Status.PodIP, cs.ContainerID, cs.RestartCount}
	}
	restartedAt := time.Now()
	s.Restart(t)
	c = s.Client
	agentWaitNode(t, c)
	// The Node and the pods still show what the old agent wrote: wait for the
	// new agent's first heartbeat, then let it sync every pod at least once.
	framework.Eventually(t, 60*time.Second, "the restarted agent's node lease renewal", func() (bool, error) {
		lease, err := c.CoordinationV1().Leases("kube-node-lease").Get(context.Background(), node, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if rt := lease.Spec.RenewTime; rt != nil && rt.After(restartedAt) {
			return true, nil
		}
		return false, fmt.Errorf("renewed %v, restarted at %v", lease.Spec.RenewTime, restartedAt)
	})
	time.Sleep(5 * time.Second)
	after := agentWaitPod(t, c, "survivor", "running after the agent restart", agentTimeout, agentRunningReady)
	if after.Status.PodIP != before.Status.PodIP || after.Status.ContainerStatuses[0].ContainerID != before.Status.ContainerStatuses[0].ContainerID {
		t.Errorf("survivor changed: ip %s -> %s, container %s -> %s", before.Status.PodIP, after.Status.PodIP,
			before.Status.ContainerStatuses[0].ContainerID, after.Status.ContainerStatuses[0].ContainerID)
	}
	for name, want := range snapshot {
		p := agentGet(t, c, name)
		cs := p.Status.ContainerStatuses[0]
		if p.Status.PodIP != want.ip || cs.ContainerID != want.id || cs.RestartCount != want.restarts {
			t.Errorf("pod %s: ip %s container %s restarts %d; before the restart: %+v", name, p.Status.PodIP, cs.ContainerID, cs.RestartCount, want)
		}
	}
	if body, err := agentHTTP("http://" + after.Status.PodIP + ":8080/"); err != nil || !strings.Contains(body, "survivor") {
		t.Errorf("survivor does not serve after the agent restart: %q %v", body, err)
	}
}

func testAgentCleanup(t *testing.T, s *framework.Server) {
	c := s.Client
	ctx := context.Background()
	pods, err := c.CoreV1().Pods(agentNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, p := range pods.Items {
		uids = append(uids, string(p.UID))
	}
	if len(uids) == 0 {
		t.Fatal("no pods to delete")
	}
	if err := c.CoreV1().Pods(agentNS).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 60*time.Second, "all pods gone", func() (bool, error) {
		l, err := c.CoreV1().Pods(agentNS).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, fmt.Errorf("%d left (%v)", len(l.Items), err)
	})
	agentDir := filepath.Join(s.DataDir, "agent")
	rt, err := cri.Dial(ctx, images.SocketPath(agentDir))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	framework.Eventually(t, 20*time.Second, "no sandbox, container, log, cgroup or IP left", func() (bool, error) {
		sbs, err := rt.ListPodSandbox(ctx, &criapi.ListPodSandboxRequest{})
		if err != nil {
			return false, err
		}
		if len(sbs.Items) > 0 {
			return false, fmt.Errorf("%d sandboxes left", len(sbs.Items))
		}
		cs, err := rt.ListContainers(ctx, &criapi.ListContainersRequest{})
		if err != nil || len(cs.Containers) > 0 {
			return false, fmt.Errorf("containers left: %v", err)
		}
		if logs, _ := os.ReadDir(filepath.Join(agentDir, "logs")); len(logs) > 0 {
			return false, fmt.Errorf("log folders left: %d", len(logs))
		}
		if podDirs, _ := os.ReadDir(filepath.Join(agentDir, "pods")); len(podDirs) > 0 {
			return false, fmt.Errorf("pod folders left: %d", len(podDirs))
		}
		ips, _ := filepath.Glob(filepath.Join(agentDir, "cni", "networks", "*", "10.*"))
		if len(ips) > 0 {
			return false, fmt.Errorf("IP allocations left: %v", ips)
		}
		for _, uid := range uids {
			matches, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods/*pod" + uid)
			more, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods/*/pod" + uid)
			if len(matches)+len(more) > 0 {
				return false, fmt.Errorf("cgroups left: %v", append(matches, more...))
			}
		}
		return true, nil
	})
}

// agentSyncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type agentSyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *agentSyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *agentSyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
