package podworker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/envvar"
	"github.com/skiff-sh/skiff/internal/agent/podstatus"
	"github.com/skiff-sh/skiff/internal/agent/volume"
)

// worker drives one pod.
type worker struct {
	m      *Manager
	notify chan struct{}

	mu      sync.Mutex
	pod     *v1.Pod
	gone    bool // the API object is deleted
	started bool

	// Owned by the worker goroutine:
	waiting    map[string]podstatus.Waiting
	lastStatus *v1.PodStatus
	resyncIn   time.Duration
	sandboxErr int // consecutive sandbox failures, for back-off
	terminal   bool
	ipsOf      string // the sandbox ips belongs to
	ips        []string
}

func newWorker(m *Manager, pod *v1.Pod) *worker {
	return &worker{m: m, pod: pod, notify: make(chan struct{}, 1), waiting: map[string]podstatus.Waiting{}}
}

func (w *worker) start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return
	}
	w.started = true
	go w.run(ctx)
}

func (w *worker) update(pod *v1.Pod, gone bool) {
	w.mu.Lock()
	old := w.pod
	w.pod = pod
	if gone {
		w.gone = true
	}
	w.mu.Unlock()
	// The echo of the worker's own status write changes nothing it acts on.
	if !gone && old != nil && !needsSync(old, pod) {
		return
	}
	w.kick()
}

// needsSync reports whether a pod update changes what the worker acts on:
// its spec, deletion, labels or annotations (downward API), or its status
// written by someone else (readiness gates, a finished phase).
func needsSync(old, cur *v1.Pod) bool {
	if !apiequality.Semantic.DeepEqual(old.DeletionTimestamp, cur.DeletionTimestamp) ||
		!apiequality.Semantic.DeepEqual(old.Labels, cur.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Annotations, cur.Annotations) ||
		!apiequality.Semantic.DeepEqual(old.Spec, cur.Spec) {
		return true
	}
	if cur.Status.Phase != old.Status.Phase && (cur.Status.Phase == v1.PodSucceeded || cur.Status.Phase == v1.PodFailed) {
		return true
	}
	return !apiequality.Semantic.DeepEqual(foreignConditions(old), foreignConditions(cur))
}

func foreignConditions(pod *v1.Pod) []v1.PodCondition {
	owned := map[v1.PodConditionType]bool{v1.PodReadyToStartContainers: true, v1.PodInitialized: true, v1.ContainersReady: true, v1.PodReady: true}
	var out []v1.PodCondition
	for _, c := range pod.Status.Conditions {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	return out
}

func (w *worker) kick() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *worker) latest() *v1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

func (w *worker) snapshot() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.gone
}

func (w *worker) run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		w.resyncIn = w.m.cfg.ResyncPeriod
		if done := w.sync(ctx); done {
			return
		}
		timer.Reset(w.resyncIn)
		select {
		case <-ctx.Done():
			return
		case <-w.notify:
			if !timer.Stop() {
				<-timer.C
			}
		case <-timer.C:
		}
	}
}

// requeue asks for the next sync no later than d from now.
func (w *worker) requeue(d time.Duration) {
	if d < w.resyncIn {
		w.resyncIn = max(d, 50*time.Millisecond)
	}
}

func (w *worker) log() *slogger {
	pod := w.latest()
	return &slogger{w.m, pod.Namespace + "/" + pod.Name}
}

// sync moves the pod one step toward its spec and reports its status. It
// returns true once the pod is gone and cleaned up.
func (w *worker) sync(ctx context.Context) bool {
	pod, gone := w.snapshot()

	if gone || pod.DeletionTimestamp != nil {
		w.finish(ctx, pod, gone)
		return true
	}
	st, err := w.m.podRuntimeState(ctx, pod.UID)
	if err != nil {
		w.log().warn("read runtime state", err)
		w.requeue(time.Second)
		return false
	}
	if wait := st.oomVerdictPending(time.Now()); wait > 0 && !w.terminal {
		w.requeue(wait)
		return false
	}
	if w.terminal || pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed {
		// A finished pod keeps its containers (for logs) but frees its
		// sandbox and IP, until it is deleted.
		w.terminal = true
		w.m.killPod(ctx, pod, st)
		return false
	}

	sb := st.readySandbox()
	if sb == nil {
		if w.mustNotRestartSandbox(pod, st) {
			w.m.killPod(ctx, pod, st)
			w.writeStatus(ctx, pod, st, "", nil)
			return false
		}
		first := len(st.sandboxes) == 0
		var ok bool
		if sb, ok = w.createSandbox(ctx, pod, st); !ok {
			w.writeStatus(ctx, pod, st, "", nil)
			return false
		}
		if first {
			// A new pod: nothing else in the runtime to look at again.
			st.sandboxes = []*criapi.PodSandbox{sb}
		} else if st, err = w.m.podRuntimeState(ctx, pod.UID); err != nil {
			w.requeue(time.Second)
			return false
		}
	}
	podIPs := w.sandboxIPs(ctx, pod, sb.Id)
	st = w.syncContainers(ctx, pod, st, sb, podIPs)
	w.m.garbageCollect(ctx, st, pod)
	w.m.observed(pod.UID, st)
	w.writeStatus(ctx, pod, st, sb.Id, podIPs)
	return false
}

// sandboxIPs returns the pod's IPs, asking the runtime once per sandbox.
func (w *worker) sandboxIPs(ctx context.Context, pod *v1.Pod, sandboxID string) []string {
	if w.ipsOf == sandboxID && len(w.ips) > 0 {
		return w.ips
	}
	ips := w.m.sandboxIPs(ctx, pod, sandboxID)
	if len(ips) > 0 {
		w.ipsOf, w.ips = sandboxID, ips
	}
	return ips
}

// mustNotRestartSandbox: a pod with restartPolicy Never whose sandbox died
// after its containers ran does not get a new sandbox (it has finished).
func (w *worker) mustNotRestartSandbox(pod *v1.Pod, st *runtimeState) bool {
	if pod.Spec.RestartPolicy != v1.RestartPolicyNever || len(st.sandboxes) == 0 {
		return false
	}
	for _, c := range st.containers {
		if !c.init {
			return true
		}
	}
	return false
}

func (w *worker) createSandbox(ctx context.Context, pod *v1.Pod, st *runtimeState) (*criapi.PodSandbox, bool) {
	m := w.m
	// Containers of a dead sandbox cannot run on: stop them first.
	if len(st.sandboxes) > 0 {
		m.killPod(ctx, pod, st)
	}
	var attempt uint32
	if len(st.sandboxes) > 0 {
		attempt = st.sandboxes[0].Metadata.GetAttempt() + 1
	}
	cfg := SandboxConfig(pod, attempt, m.sandboxOptions())
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		w.log().warn("create log dir", err)
	}
	resp, err := m.cfg.Runtime.RunPodSandbox(ctx, &criapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		w.sandboxErr++
		m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		w.requeue(min(time.Duration(w.sandboxErr)*time.Second, 30*time.Second))
		return nil, false
	}
	w.sandboxErr = 0
	// Keep the previous sandbox (stopped) with its containers: their restart
	// counts and last states carry over to the new sandbox's containers.
	// Older ones go.
	for i, old := range st.sandboxes {
		_, _ = m.cfg.Runtime.StopPodSandbox(ctx, &criapi.StopPodSandboxRequest{PodSandboxId: old.Id})
		if i > 0 {
			_, _ = m.cfg.Runtime.RemovePodSandbox(ctx, &criapi.RemovePodSandboxRequest{PodSandboxId: old.Id})
		}
	}
	if attempt > 0 {
		m.cfg.Recorder.Event(pod, v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
	}
	return &criapi.PodSandbox{Id: resp.PodSandboxId, Metadata: cfg.Metadata, State: criapi.PodSandboxState_SANDBOX_READY}, true
}

func (m *Manager) sandboxOptions() SandboxOptions {
	return SandboxOptions{LogRoot: m.cfg.LogRoot, CgroupRoot: m.cfg.CgroupRoot, DNS: m.cfg.DNS}
}

// sandboxIPs returns the pod's IPs (the node's for hostNetwork pods).
func (m *Manager) sandboxIPs(ctx context.Context, pod *v1.Pod, sandboxID string) []string {
	if pod.Spec.HostNetwork {
		return m.cfg.HostIPs
	}
	resp, err := m.cfg.Runtime.PodSandboxStatus(ctx, &criapi.PodSandboxStatusRequest{PodSandboxId: sandboxID})
	if err != nil || resp.Status.Network == nil {
		return nil
	}
	ips := []string{}
	if ip := resp.Status.Network.Ip; ip != "" {
		ips = append(ips, ip)
	}
	for _, extra := range resp.Status.Network.AdditionalIps {
		ips = append(ips, extra.Ip)
	}
	return ips
}

// syncContainers kills what must not run and starts what should; it
// returns the runtime's state after its changes.
func (w *worker) syncContainers(ctx context.Context, pod *v1.Pod, st *runtimeState, sb *criapi.PodSandbox, podIPs []string) *runtimeState {
	m := w.m
	changed := false

	// Containers whose probes failed, whose spec changed, or that the spec
	// no longer names are stopped; the loop below restarts them.
	specs := map[string]*v1.Container{}
	for i := range pod.Spec.InitContainers {
		specs[pod.Spec.InitContainers[i].Name] = &pod.Spec.InitContainers[i]
	}
	for i := range pod.Spec.Containers {
		specs[pod.Spec.Containers[i].Name] = &pod.Spec.Containers[i]
	}
	for _, c := range st.containers {
		if !c.running() {
			continue
		}
		spec := specs[c.name]
		var reason string
		switch {
		case spec == nil:
			reason = fmt.Sprintf("Container %s is not in the pod's spec", c.name)
		case c.sandboxID != sb.Id:
			reason = fmt.Sprintf("Container %s belongs to an old sandbox", c.name)
		case c.hash != Hash(spec):
			reason = fmt.Sprintf("Container %s definition changed, will be restarted", c.name)
		default:
			if ps := m.probes.State(c.id); ps.Failed {
				reason = fmt.Sprintf("Container %s failed %s probe, will be restarted", c.name, strings.ToLower(string(ps.FailedKind)))
			}
		}
		if reason == "" {
			continue
		}
		m.cfg.Recorder.Event(pod, v1.EventTypeNormal, "Killing", reason)
		m.killContainer(ctx, pod, c, gracePeriod(pod, false))
		changed = true
	}
	if changed {
		if fresh, err := m.podRuntimeState(ctx, pod.UID); err == nil {
			st = fresh
		}
	}

	mounts, err := m.cfg.Volumes.Setup(ctx, pod, podIPs, m.cfg.HostIPs)
	if err != nil {
		m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
		w.requeue(2 * time.Second)
		return st
	}
	if err := m.writeEtcHosts(pod, podIPs); err != nil {
		w.log().warn("write /etc/hosts", err)
	}
	sandboxCfg := SandboxConfig(pod, sb.Metadata.GetAttempt(), m.sandboxOptions())
	// What the starts below did, to refresh st with as few runtime calls
	// as possible: the started containers alone, or everything after a
	// start that went wrong half-way.
	var started []string
	relist := false
	start := func(c *v1.Container, init bool) {
		cur := st.current(c.Name)
		restartCount := int32(0)
		if cur != nil {
			restartCount = cur.restartCount + 1
		}
		id, changed := w.startContainer(ctx, pod, c, init, restartCount, sb.Id, sandboxCfg, podIPs, mounts)
		switch {
		case id != "":
			started = append(started, id)
		case changed:
			relist = true
		}
	}
	after := func() *runtimeState {
		if !relist && len(started) > 0 {
			fresh, err := m.withStarted(ctx, st, sb.Id, started)
			if err == nil {
				return fresh
			}
			relist = true
		}
		if relist {
			if fresh, err := m.podRuntimeState(ctx, pod.UID); err == nil {
				return fresh
			}
		}
		return st
	}

	// Init containers, one at a time, in order.
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := st.current(c.Name)
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
		switch {
		case cur != nil && cur.running():
			m.ensureProbes(ctx, pod, c, cur, podIPs)
			if sidecar && m.probes.State(cur.id).Started {
				continue
			}
			return after()
		case cur == nil || cur.state == criapi.ContainerState_CONTAINER_CREATED:
			start(c, true)
			return after()
		case cur.exitCode() == 0 && !sidecar:
			delete(w.waiting, c.Name)
			continue
		case pod.Spec.RestartPolicy == v1.RestartPolicyNever && !sidecar:
			return after() // the pod has failed
		default:
			if w.restartAllowed(pod, c, cur) {
				start(c, true)
			}
			return after()
		}
	}

	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := st.current(c.Name)
		switch {
		case cur != nil && cur.running():
			delete(w.waiting, c.Name)
			m.ensureProbes(ctx, pod, c, cur, podIPs)
		case cur == nil || cur.state == criapi.ContainerState_CONTAINER_CREATED || cur.state == criapi.ContainerState_CONTAINER_UNKNOWN:
			start(c, false)
		case shouldRestart(pod.Spec.RestartPolicy, cur.exitCode()):
			if w.restartAllowed(pod, c, cur) {
				start(c, false)
			}
		default:
			delete(w.waiting, c.Name)
		}
	}
	return after()
}

func shouldRestart(policy v1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// restartAllowed applies the crash-loop back-off to an exited container.
func (w *worker) restartAllowed(pod *v1.Pod, c *v1.Container, cur *containerInfo) bool {
	key := string(pod.UID) + "/" + c.Name
	now := time.Now()
	if in, wait := w.m.backoff.InBackoff(key, cur.finishedAt(), now); in {
		delay := w.m.backoff.Delay(key)
		msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, pod.Name, pod.Namespace, pod.UID)
		if _, already := w.waiting[c.Name]; !already || w.waiting[c.Name].Reason != "CrashLoopBackOff" {
			w.m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", c.Name, pod.Name, pod.Namespace, pod.UID)
		}
		w.waiting[c.Name] = podstatus.Waiting{Reason: "CrashLoopBackOff", Message: msg}
		w.requeue(wait)
		return false
	}
	w.m.backoff.Next(key, now)
	return true
}

func (m *Manager) ensureProbes(ctx context.Context, pod *v1.Pod, c *v1.Container, cur *containerInfo, podIPs []string) {
	if c.LivenessProbe == nil && c.ReadinessProbe == nil && c.StartupProbe == nil {
		return
	}
	if m.probes.Known(cur.id) {
		return
	}
	// An adopted container that the API already shows ready stays ready.
	initialReady := false
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == c.Name && s.ContainerID == "containerd://"+cur.id && s.Ready {
			initialReady = true
		}
	}
	ip := ""
	if len(podIPs) > 0 {
		ip = podIPs[0]
	}
	m.probes.Add(ctx, pod.UID, ip, cur.id, c, initialReady)
}

// startContainer pulls the image if needed, creates and starts one run of
// c, and runs its postStart hook. Failures are recorded as the container's
// waiting reason and as events. It returns the ID of the container it
// started, or "" and whether it changed the runtime anyway (a container
// created but not started, or killed by its failed postStart hook).
func (w *worker) startContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, init bool, restartCount int32, sandboxID string, sandboxCfg *criapi.PodSandboxConfig, podIPs []string, vols map[string]volume.Mount) (string, bool) {
	m := w.m
	image, imageUID, wait := m.ensureImage(ctx, pod, c)
	if wait != nil {
		w.waiting[c.Name] = *wait
		if wait.Reason == "ImagePullBackOff" || wait.Reason == "ErrImagePull" {
			w.requeue(m.pulls.Delay(string(pod.UID) + "/" + c.Name + "/pull"))
		}
		return "", false
	}
	configError := func(err error) (string, bool) {
		m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		w.waiting[c.Name] = podstatus.Waiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		w.requeue(2 * time.Second)
		return "", false
	}
	env, err := envvar.Resolve(m.cfg.Sources, envvar.Pod{Pod: pod, PodIPs: podIPs, HostIPs: m.cfg.HostIPs, NodeAllocatable: m.cfg.Allocatable}, c)
	if err != nil {
		return configError(err)
	}
	if err := checkNonRoot(pod, c, imageUID); err != nil {
		return configError(err)
	}
	mounts, err := m.containerMounts(pod, c, restartCount, env, vols)
	if err != nil {
		return configError(err)
	}
	cfg := ContainerConfig(pod, c, ContainerOptions{
		RestartCount:   restartCount,
		Env:            env,
		Mounts:         mounts,
		Image:          image,
		MemoryCapacity: m.cfg.Allocatable.Memory().Value(),
		Init:           init,
	})
	created, err := m.cfg.Runtime.CreateContainer(ctx, &criapi.CreateContainerRequest{PodSandboxId: sandboxID, Config: cfg, SandboxConfig: sandboxCfg})
	if err != nil {
		m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		w.waiting[c.Name] = podstatus.Waiting{Reason: "CreateContainerError", Message: err.Error()}
		w.requeue(2 * time.Second)
		return "", false
	}
	m.cfg.Recorder.Eventf(pod, v1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	delete(w.waiting, c.Name)
	if _, err := m.cfg.Runtime.StartContainer(ctx, &criapi.StartContainerRequest{ContainerId: created.ContainerId}); err != nil {
		m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "Failed", "Error: %v", err)
		w.waiting[c.Name] = podstatus.Waiting{Reason: "RunContainerError", Message: err.Error()}
		return "", true
	}
	m.cfg.Recorder.Eventf(pod, v1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		ip := ""
		if len(podIPs) > 0 {
			ip = podIPs[0]
		}
		if err := m.runHook(ctx, c.Lifecycle.PostStart, created.ContainerId, ip, c, gracePeriod(pod, false)); err != nil {
			m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			m.killContainer(ctx, pod, &containerInfo{id: created.ContainerId, name: c.Name}, gracePeriod(pod, false))
			return "", true
		}
	}
	info := &containerInfo{id: created.ContainerId, name: c.Name}
	m.ensureProbes(ctx, pod, c, info, podIPs)
	return created.ContainerId, true
}

// checkNonRoot enforces runAsNonRoot against the configured or image user.
func checkNonRoot(pod *v1.Pod, c *v1.Container, imageUID *int64) error {
	nonRoot := false
	var uid *int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsNonRoot != nil {
			nonRoot = *psc.RunAsNonRoot
		}
		uid = psc.RunAsUser
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsNonRoot != nil {
			nonRoot = *csc.RunAsNonRoot
		}
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
	}
	if !nonRoot {
		return nil
	}
	if uid == nil {
		uid = imageUID
	}
	if uid == nil {
		return errors.New("container has runAsNonRoot and image has non-numeric user, cannot verify user is non-root")
	}
	if *uid == 0 {
		return errors.New("container has runAsNonRoot and image will run as root")
	}
	return nil
}

// containerMounts maps the container's volumeMounts, /etc/hosts and its
// termination-message file to runtime mounts.
func (m *Manager) containerMounts(pod *v1.Pod, c *v1.Container, restartCount int32, env []envvar.Var, vols map[string]volume.Mount) ([]*criapi.Mount, error) {
	var out []*criapi.Mount
	targets := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		vol, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q is not defined in the pod", vm.Name)
		}
		sub := vm.SubPath
		if vm.SubPathExpr != "" {
			sub = envvar.ExpandAll([]string{vm.SubPathExpr}, env)[0]
		}
		host, err := volume.SubPath(vol.HostPath, sub)
		if err != nil {
			return nil, err
		}
		mnt := &criapi.Mount{ContainerPath: vm.MountPath, HostPath: host, Readonly: vm.ReadOnly || vol.ReadOnly}
		if vm.MountPropagation != nil {
			switch *vm.MountPropagation {
			case v1.MountPropagationHostToContainer:
				mnt.Propagation = criapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER
			case v1.MountPropagationBidirectional:
				mnt.Propagation = criapi.MountPropagation_PROPAGATION_BIDIRECTIONAL
			}
		}
		out = append(out, mnt)
		targets[filepath.Clean(vm.MountPath)] = true
	}
	if !targets["/etc/hosts"] {
		out = append(out, &criapi.Mount{ContainerPath: "/etc/hosts", HostPath: m.etcHostsPath(pod)})
	}
	path := c.TerminationMessagePath
	if path == "" {
		path = v1.TerminationMessagePathDefault
	}
	if !targets[filepath.Clean(path)] {
		file := m.terminationLogPath(pod, c.Name, restartCount)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return nil, fmt.Errorf("termination log: %w", err)
		}
		if err := os.WriteFile(file, nil, 0o666); err != nil {
			return nil, fmt.Errorf("termination log: %w", err)
		}
		_ = os.Chmod(file, 0o666)
		out = append(out, &criapi.Mount{ContainerPath: path, HostPath: file})
	}
	return out, nil
}

func (m *Manager) etcHostsPath(pod *v1.Pod) string {
	return filepath.Join(m.cfg.Volumes.PodDir(pod.UID), "etc-hosts")
}

func (m *Manager) terminationLogPath(pod *v1.Pod, name string, restartCount int32) string {
	return filepath.Join(m.cfg.Volumes.PodDir(pod.UID), "containers", name, fmt.Sprintf("%d-termination-log", restartCount))
}

func (m *Manager) writeEtcHosts(pod *v1.Pod, podIPs []string) error {
	var data []byte
	if pod.Spec.HostNetwork {
		var err error
		if data, err = os.ReadFile("/etc/hosts"); err != nil {
			return err
		}
	} else {
		data = EtcHosts(pod, podIPs, m.cfg.ClusterDomain)
	}
	path := m.etcHostsPath(pod)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// terminationMessage reads what an exited container wrote to its
// termination-message file (or, with FallbackToLogsOnError, its log tail).
func (m *Manager) terminationMessage(pod *v1.Pod) func(*containerInfo) string {
	return func(c *containerInfo) string {
		const maxBytes = 4096
		data, _ := os.ReadFile(m.terminationLogPath(pod, c.name, c.restartCount))
		if len(data) > maxBytes {
			data = data[:maxBytes]
		}
		if len(data) > 0 {
			return string(data)
		}
		var spec *v1.Container
		for _, s := range allContainers(pod) {
			if s.Name == c.name {
				spec = &s
			}
		}
		if spec == nil || spec.TerminationMessagePolicy != v1.TerminationMessageFallbackToLogsOnError || c.exitCode() == 0 || c.status == nil {
			return ""
		}
		return tailLog(c.status.LogPath, 80, 2048)
	}
}

// gracePeriod is how long containers get between SIGTERM and SIGKILL.
func gracePeriod(pod *v1.Pod, deleting bool) int64 {
	if deleting && pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// writeStatus computes the pod's status and writes it when it changed.
func (w *worker) writeStatus(ctx context.Context, pod *v1.Pod, st *runtimeState, sandboxID string, podIPs []string) {
	m := w.m
	compute := func(pod *v1.Pod) v1.PodStatus {
		base := pod.DeepCopy()
		if last := w.lastStatus; last != nil {
			if base.Status.StartTime == nil {
				base.Status.StartTime = last.StartTime
			}
			if last.Phase == v1.PodSucceeded || last.Phase == v1.PodFailed {
				base.Status.Phase = last.Phase
			}
			base.Status.Conditions = mergeConditions(pod.Status.Conditions, last.Conditions)
		}
		in := podstatus.Input{
			Pod:          base,
			SandboxReady: sandboxID != "",
			PodIPs:       podIPs,
			HostIPs:      m.cfg.HostIPs,
			Runs:         runs(st, m.terminationMessage(pod)),
			Waiting:      w.waiting,
			Ready:        map[string]bool{},
			Started:      map[string]bool{},
			Now:          time.Now(),
		}
		if len(podIPs) == 0 && w.lastStatus != nil && sandboxID == "" {
			for _, ip := range w.lastStatus.PodIPs {
				in.PodIPs = append(in.PodIPs, ip.IP)
			}
		}
		for _, c := range st.containers {
			ps := m.probes.State(c.id)
			in.Ready["containerd://"+c.id] = ps.Ready
			in.Started["containerd://"+c.id] = ps.Started
		}
		return podstatus.Compute(in)
	}
	status := compute(pod)
	if status.Phase == v1.PodSucceeded || status.Phase == v1.PodFailed {
		w.terminal = true
	}
	if w.lastStatus != nil && apiequality.Semantic.DeepEqual(*w.lastStatus, status) {
		return
	}
	if w.lastStatus == nil && apiequality.Semantic.DeepEqual(pod.Status, status) {
		w.lastStatus = &status
		return
	}
	for attempt := 0; attempt < 3; attempt++ {
		next := pod.DeepCopy()
		next.Status = status
		updated, err := m.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			w.lastStatus = &status
			w.mu.Lock()
			if w.pod.ResourceVersion == pod.ResourceVersion {
				w.pod = updated
			}
			w.mu.Unlock()
			return
		}
		if apierrors.IsNotFound(err) {
			w.update(pod, true)
			return
		}
		if !apierrors.IsConflict(err) {
			w.log().warn("update pod status", err)
			w.requeue(time.Second)
			return
		}
		fresh, err := m.cfg.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			w.requeue(time.Second)
			return
		}
		if fresh.UID != pod.UID {
			w.update(pod, true)
			return
		}
		pod = fresh
		status = compute(pod)
	}
	w.requeue(time.Second)
}

// mergeConditions keeps the API's conditions of other owners and the
// agent's own last-written ones.
func mergeConditions(api, own []v1.PodCondition) []v1.PodCondition {
	owned := map[v1.PodConditionType]bool{v1.PodReadyToStartContainers: true, v1.PodInitialized: true, v1.ContainersReady: true, v1.PodReady: true}
	var out []v1.PodCondition
	apiScheduled := false
	for _, c := range api {
		if !owned[c.Type] {
			out = append(out, c)
		}
		apiScheduled = apiScheduled || c.Type == v1.PodScheduled
	}
	for _, c := range own {
		// PodScheduled is the agent's own only when it had to add it.
		if owned[c.Type] || (c.Type == v1.PodScheduled && !apiScheduled) {
			out = append(out, c)
		}
	}
	return out
}

// finish terminates a deleted pod, cleans up after it and, when the API
// object still exists (graceful deletion), deletes it for good.
func (w *worker) finish(ctx context.Context, pod *v1.Pod, gone bool) {
	m := w.m
	st, _ := m.podRuntimeState(ctx, pod.UID)
	grace := gracePeriod(pod, !gone)
	m.killPodGrace(ctx, pod, st, &grace)
	m.cleanupPod(ctx, pod)
	if !gone {
		zero := int64(0)
		uid := pod.UID
		err := m.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			w.log().warn("delete pod", err)
		}
	}
	m.workerDone(pod.UID)
}

type slogger struct {
	m   *Manager
	pod string
}

func (l *slogger) warn(msg string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	l.m.cfg.Log.Warn(msg, "pod", l.pod, "err", err)
}
