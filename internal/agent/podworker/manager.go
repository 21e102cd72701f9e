// Package podworker runs the pods bound to this node: one worker goroutine
// per pod drives the runtime (sandbox, init containers in order, containers,
// restarts with back-off, probes, graceful termination) toward the pod's
// spec and writes the pod's status; a relist loop notices containers that
// change on their own and cleans up pods that no longer exist.
package podworker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/backoff"
	"github.com/skiff-sh/skiff/internal/agent/cri"
	"github.com/skiff-sh/skiff/internal/agent/envvar"
	"github.com/skiff-sh/skiff/internal/agent/probe"
	"github.com/skiff-sh/skiff/internal/agent/volume"
)

// Sources are the informer-backed lookups the workers need.
type Sources interface {
	envvar.Sources
	volume.Sources
}

// Config wires a Manager to the node.
type Config struct {
	NodeName string
	Runtime  *cri.Client
	Client   kubernetes.Interface
	Sources  Sources
	Volumes  *volume.Manager
	Recorder record.EventRecorder
	Log      *slog.Logger

	// LogRoot holds the pods' container logs.
	LogRoot string
	// CgroupRoot is the cgroup folder pods go under ("/kubepods").
	CgroupRoot string
	// CgroupMount is where the cgroup hierarchies are mounted ("/sys/fs/cgroup").
	CgroupMount string
	// IPAMDir is host-local's allocation folder for the pod network.
	IPAMDir string
	DNS     DNS
	// HostIPs are the node's addresses (status.hostIP(s), hostNetwork pod IPs).
	HostIPs []string
	// Allocatable is the node's allocatable resources (resourceFieldRef defaults).
	Allocatable v1.ResourceList
	// ClusterDomain is the DNS domain of the cluster ("cluster.local").
	ClusterDomain string
	// RelistPeriod is how often the runtime is listed for changes (1 s).
	RelistPeriod time.Duration
	// ResyncPeriod is how often each worker re-syncs without events (10 s).
	ResyncPeriod time.Duration
}

// Manager owns the pod workers.
type Manager struct {
	cfg     Config
	probes  *probe.Manager
	backoff *backoff.Backoff
	pulls   *backoff.Backoff

	mu           sync.Mutex
	ctx          context.Context
	workers      map[types.UID]*worker
	exitedStatus map[string]*criapi.ContainerStatus
	synced       bool
	dirsChecked  bool
	orphans      map[types.UID]bool
	fingerprints map[types.UID]string
}

// New returns a Manager; Run starts it.
func New(cfg Config) *Manager {
	if cfg.RelistPeriod == 0 {
		cfg.RelistPeriod = time.Second
	}
	if cfg.ResyncPeriod == 0 {
		cfg.ResyncPeriod = 10 * time.Second
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = "/kubepods"
	}
	if cfg.CgroupMount == "" {
		cfg.CgroupMount = "/sys/fs/cgroup"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	m := &Manager{
		cfg:          cfg,
		backoff:      backoff.New(10*time.Second, 5*time.Minute),
		pulls:        backoff.New(10*time.Second, 5*time.Minute),
		workers:      map[types.UID]*worker{},
		exitedStatus: map[string]*criapi.ContainerStatus{},
		orphans:      map[types.UID]bool{},
		fingerprints: map[types.UID]string{},
	}
	m.probes = probe.NewManager(execer{cfg.Runtime}, m.notify, m.probeFailed)
	return m
}

// Run relists the runtime until ctx ends. Pods updates before Run are
// queued and start once it runs.
func (m *Manager) Run(ctx context.Context) {
	m.mu.Lock()
	m.ctx = ctx
	for _, w := range m.workers {
		w.start(ctx)
	}
	m.mu.Unlock()
	t := time.NewTicker(m.cfg.RelistPeriod)
	defer t.Stop()
	for i := 0; ; i++ {
		containers := m.relist(ctx)
		if i%10 == 0 {
			m.rotateLogs(ctx, containers)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SetSynced tells the manager the pod informer has synced: from now on a
// sandbox of an unknown pod is an orphan to remove.
func (m *Manager) SetSynced() {
	m.mu.Lock()
	m.synced = true
	m.mu.Unlock()
}

// Update hands the latest version of a pod bound to this node to its worker.
func (m *Manager) Update(pod *v1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[pod.UID]
	if !ok {
		if m.orphans[pod.UID] {
			return
		}
		w = newWorker(m, pod)
		m.workers[pod.UID] = w
		if m.ctx != nil {
			w.start(m.ctx)
		}
		return
	}
	w.update(pod, false)
}

// Remove tells the worker its pod is gone from the API.
func (m *Manager) Remove(pod *v1.Pod) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[pod.UID]; ok {
		w.update(pod, true)
		return
	}
	// Never seen (or already finished): cleaning its leftovers is the relist's job.
}

// NotifyConfig re-syncs the pods of namespace that use the ConfigMap or
// Secret (kind "configmap" or "secret") named name, so their volumes update.
func (m *Manager) NotifyConfig(kind, namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.workers {
		pod := w.latest()
		if pod.Namespace == namespace && volume.References(pod, kind, name) {
			w.kick()
		}
	}
}

func (m *Manager) notify(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[uid]; ok {
		w.kick()
	}
}

func (m *Manager) probeFailed(e probe.Event) {
	m.mu.Lock()
	w, ok := m.workers[e.PodUID]
	m.mu.Unlock()
	if !ok {
		return
	}
	m.cfg.Recorder.Eventf(w.latest(), v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", e.Kind, e.Message)
}

func (m *Manager) workerDone(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.workers, uid)
	delete(m.fingerprints, uid)
}

// relist lists all sandboxes and containers once, wakes the workers of pods
// whose runtime state changed, and removes sandboxes of unknown pods. It
// returns the containers it saw.
func (m *Manager) relist(ctx context.Context) []*criapi.Container {
	sbs, err := m.cfg.Runtime.ListPodSandbox(ctx, &criapi.ListPodSandboxRequest{Filter: &criapi.PodSandboxFilter{LabelSelector: map[string]string{LabelManagedBy: "true"}}})
	if err != nil {
		if ctx.Err() == nil {
			m.cfg.Log.Warn("relist sandboxes", "err", err)
		}
		return nil
	}
	cs, err := m.cfg.Runtime.ListContainers(ctx, &criapi.ListContainersRequest{Filter: &criapi.ContainerFilter{LabelSelector: map[string]string{LabelManagedBy: "true"}}})
	if err != nil {
		return nil
	}
	prints := map[types.UID][]string{}
	meta := map[types.UID]*criapi.PodSandboxMetadata{}
	for _, sb := range sbs.Items {
		uid := types.UID(sb.Labels[LabelPodUID])
		prints[uid] = append(prints[uid], sandboxPrint(sb.Id, sb.State))
		meta[uid] = sb.Metadata
	}
	for _, c := range cs.Containers {
		uid := types.UID(c.Labels[LabelPodUID])
		prints[uid] = append(prints[uid], containerPrint(c.Id, c.State))
	}
	m.mu.Lock()
	if m.synced && !m.dirsChecked {
		m.dirsChecked = true
		known := map[types.UID]bool{}
		for uid := range m.workers {
			known[uid] = true
		}
		for uid := range prints {
			known[uid] = true
		}
		go m.removeOrphanDirs(known)
	}
	var orphans []types.UID
	for uid, p := range prints {
		fp := fingerprint(p)
		if w, ok := m.workers[uid]; ok {
			if m.fingerprints[uid] != fp {
				m.fingerprints[uid] = fp
				w.kick()
			}
			continue
		}
		if m.synced && !m.orphans[uid] && meta[uid] != nil {
			m.orphans[uid] = true
			orphans = append(orphans, uid)
		}
	}
	m.mu.Unlock()
	for _, uid := range orphans {
		md := meta[uid]
		go func() {
			pod := &v1.Pod{}
			pod.Name, pod.Namespace, pod.UID = md.Name, md.Namespace, uid
			m.cfg.Log.Info("removing pod that no longer exists", "pod", md.Namespace+"/"+md.Name, "uid", uid)
			m.killPod(ctx, pod, nil)
			m.cleanupPod(ctx, pod)
			m.mu.Lock()
			delete(m.orphans, uid)
			m.mu.Unlock()
		}()
	}
	return cs.Containers
}

// removeOrphanDirs removes pod folders and log folders of pods that have
// neither a worker nor anything in the runtime (left when the agent stopped
// half-way through a cleanup).
func (m *Manager) removeOrphanDirs(known map[types.UID]bool) {
	if entries, err := os.ReadDir(m.cfg.Volumes.Dir); err == nil {
		for _, e := range entries {
			if uid := types.UID(e.Name()); !known[uid] && !m.hasWorker(uid) {
				m.cfg.Log.Info("removing leftover pod folder", "uid", uid)
				if err := m.cfg.Volumes.Teardown(uid); err != nil {
					m.cfg.Log.Warn("remove leftover pod folder", "uid", uid, "err", err)
				}
			}
		}
	}
	if entries, err := os.ReadDir(m.cfg.LogRoot); err == nil {
		for _, e := range entries {
			name := e.Name()
			if uid := types.UID(name[strings.LastIndex(name, "_")+1:]); !known[uid] && !m.hasWorker(uid) {
				_ = os.RemoveAll(filepath.Join(m.cfg.LogRoot, name))
			}
		}
	}
}

func (m *Manager) hasWorker(uid types.UID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.workers[uid]
	return ok
}

func sandboxPrint(id string, state criapi.PodSandboxState) string  { return "s" + id + state.String() }
func containerPrint(id string, state criapi.ContainerState) string { return "c" + id + state.String() }

func fingerprint(parts []string) string {
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// observed records the runtime state a worker just saw, so the relist does
// not wake it for changes it made itself.
func (m *Manager) observed(uid types.UID, st *runtimeState) {
	var parts []string
	for _, sb := range st.sandboxes {
		parts = append(parts, sandboxPrint(sb.Id, sb.State))
	}
	for _, c := range st.containers {
		parts = append(parts, containerPrint(c.id, c.state))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.workers[uid]; ok {
		m.fingerprints[uid] = fingerprint(parts)
	}
}

// execer adapts the CRI client to probes and hooks.
type execer struct{ rt *cri.Client }

func (e execer) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, int32, error) {
	resp, err := e.rt.ExecSync(ctx, &criapi.ExecSyncRequest{ContainerId: id, Cmd: cmd, Timeout: int64(timeout / time.Second)})
	if err != nil {
		return nil, 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	return append(resp.Stdout, resp.Stderr...), resp.ExitCode, nil
}
