package podworker

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/podstatus"
)

// runtimeState is what the runtime holds for one pod.
type runtimeState struct {
	sandboxes  []*criapi.PodSandbox // newest first
	containers []*containerInfo     // newest first per name
}

// containerInfo is one container run with its details.
type containerInfo struct {
	id, sandboxID, name string
	state               criapi.ContainerState
	restartCount        int32
	hash                string
	init                bool
	createdAt           time.Time
	status              *criapi.ContainerStatus
}

func (c *containerInfo) running() bool { return c.state == criapi.ContainerState_CONTAINER_RUNNING }
func (c *containerInfo) exited() bool  { return c.state == criapi.ContainerState_CONTAINER_EXITED }

func (c *containerInfo) exitCode() int32 {
	if c.status == nil {
		return 0
	}
	return c.status.ExitCode
}

func (c *containerInfo) finishedAt() time.Time {
	if c.status == nil || c.status.FinishedAt == 0 {
		return c.createdAt
	}
	return time.Unix(0, c.status.FinishedAt)
}

// oomSettleTime is how long the newest run of a container killed by SIGKILL
// waits for an OOMKilled verdict before its status is reported: containerd
// before 2.2 can handle the exit of an OOM kill before its OOM event
// (containerd#8180) and reports "Error" until the event arrives — for a pod
// that does not restart, forever, since its final status is written once.
const oomSettleTime = time.Second

// oomVerdictPending returns how much longer to wait before reporting the
// pod's status, 0 when no newest container run awaits an OOM verdict.
func (s *runtimeState) oomVerdictPending(now time.Time) time.Duration {
	seen := map[string]bool{}
	var wait time.Duration
	for _, c := range s.containers {
		if seen[c.name] {
			continue
		}
		seen[c.name] = true
		if !c.exited() || c.exitCode() != 137 || c.status.GetReason() == "OOMKilled" {
			continue
		}
		if left := oomSettleTime - now.Sub(c.finishedAt()); left > wait {
			wait = left
		}
	}
	return wait
}

// readySandbox returns the newest sandbox if it is ready.
func (s *runtimeState) readySandbox() *criapi.PodSandbox {
	if len(s.sandboxes) > 0 && s.sandboxes[0].State == criapi.PodSandboxState_SANDBOX_READY {
		return s.sandboxes[0]
	}
	return nil
}

// current returns the newest run of the named container.
func (s *runtimeState) current(name string) *containerInfo {
	for _, c := range s.containers {
		if c.name == name {
			return c
		}
	}
	return nil
}

// runs returns all runs of the named container, newest first.
func (s *runtimeState) runs(name string) []*containerInfo {
	var out []*containerInfo
	for _, c := range s.containers {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// podRuntimeState lists the pod's sandboxes and containers, with details.
func (m *Manager) podRuntimeState(ctx context.Context, uid types.UID) (*runtimeState, error) {
	sel := map[string]string{LabelPodUID: string(uid)}
	sbs, err := m.cfg.Runtime.ListPodSandbox(ctx, &criapi.ListPodSandboxRequest{Filter: &criapi.PodSandboxFilter{LabelSelector: sel}})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	cs, err := m.cfg.Runtime.ListContainers(ctx, &criapi.ListContainersRequest{Filter: &criapi.ContainerFilter{LabelSelector: sel}})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	st := &runtimeState{sandboxes: sbs.Items}
	sort.Slice(st.sandboxes, func(i, j int) bool {
		a, b := st.sandboxes[i], st.sandboxes[j]
		if a.Metadata.GetAttempt() != b.Metadata.GetAttempt() {
			return a.Metadata.GetAttempt() > b.Metadata.GetAttempt()
		}
		return a.CreatedAt > b.CreatedAt
	})
	for _, c := range cs.Containers {
		status, err := m.containerStatus(ctx, c.Id, c.State)
		if err != nil {
			continue // removed in between
		}
		st.containers = append(st.containers, newContainerInfo(c.Id, c.PodSandboxId, c.Metadata, c.Labels, c.Annotations, c.CreatedAt, status))
	}
	st.sortContainers()
	return st, nil
}

// newContainerInfo describes one container run from what the runtime lists
// (or reports) of it and its status.
func newContainerInfo(id, sandboxID string, meta *criapi.ContainerMetadata, labels, annotations map[string]string, createdAt int64, status *criapi.ContainerStatus) *containerInfo {
	info := &containerInfo{
		id:        id,
		sandboxID: sandboxID,
		name:      labels[LabelContainerName],
		state:     status.State,
		hash:      annotations[AnnotationHash],
		init:      annotations[AnnotationInit] == "true",
		createdAt: time.Unix(0, createdAt),
		status:    status,
	}
	if n, err := strconv.Atoi(annotations[AnnotationRestartCount]); err == nil {
		info.restartCount = int32(n)
	} else if meta != nil {
		info.restartCount = int32(meta.Attempt)
	}
	return info
}

// sortContainers orders runs newest first: by restart count, then creation.
func (s *runtimeState) sortContainers() {
	sort.Slice(s.containers, func(i, j int) bool {
		a, b := s.containers[i], s.containers[j]
		if a.restartCount != b.restartCount {
			return a.restartCount > b.restartCount
		}
		return a.createdAt.After(b.createdAt)
	})
}

// withStarted returns st plus the containers just started in sandboxID,
// asking the runtime about those alone: after a start, re-listing the whole
// pod costs two more calls to a runtime that is busiest exactly then.
func (m *Manager) withStarted(ctx context.Context, st *runtimeState, sandboxID string, ids []string) (*runtimeState, error) {
	out := &runtimeState{sandboxes: st.sandboxes, containers: append([]*containerInfo(nil), st.containers...)}
	for _, id := range ids {
		status, err := m.containerStatus(ctx, id, criapi.ContainerState_CONTAINER_RUNNING)
		if err != nil {
			return nil, fmt.Errorf("status of started container %s: %w", id, err)
		}
		out.containers = slices.DeleteFunc(out.containers, func(c *containerInfo) bool { return c.id == id })
		out.containers = append(out.containers, newContainerInfo(id, sandboxID, status.Metadata, status.Labels, status.Annotations, status.CreatedAt, status))
	}
	out.sortContainers()
	return out, nil
}

// containerStatus returns a container's details; those of exited
// containers never change, so they are cached.
func (m *Manager) containerStatus(ctx context.Context, id string, state criapi.ContainerState) (*criapi.ContainerStatus, error) {
	m.mu.Lock()
	cached, ok := m.exitedStatus[id]
	m.mu.Unlock()
	if ok {
		return cached, nil
	}
	resp, err := m.cfg.Runtime.ContainerStatus(ctx, &criapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, err
	}
	if resp.Status.State == criapi.ContainerState_CONTAINER_EXITED {
		m.mu.Lock()
		m.exitedStatus[id] = resp.Status
		m.mu.Unlock()
	}
	return resp.Status, nil
}

func (m *Manager) forgetContainer(id string) {
	m.mu.Lock()
	delete(m.exitedStatus, id)
	m.mu.Unlock()
}

// runs converts the runtime's containers to status inputs.
func runs(st *runtimeState, terminationMessage func(*containerInfo) string) []podstatus.ContainerRun {
	out := make([]podstatus.ContainerRun, 0, len(st.containers))
	for _, c := range st.containers {
		r := podstatus.ContainerRun{
			ID:           "containerd://" + c.id,
			Name:         c.name,
			RestartCount: c.restartCount,
			CreatedAt:    c.createdAt,
		}
		if s := c.status; s != nil {
			r.Running = s.State == criapi.ContainerState_CONTAINER_RUNNING
			r.Exited = s.State == criapi.ContainerState_CONTAINER_EXITED
			if s.StartedAt > 0 {
				r.StartedAt = time.Unix(0, s.StartedAt)
			}
			if s.FinishedAt > 0 {
				r.FinishedAt = time.Unix(0, s.FinishedAt)
			}
			r.ExitCode = s.ExitCode
			r.Reason = s.Reason
			r.Message = s.Message
			if s.Image != nil {
				r.Image = s.Image.UserSpecifiedImage
				if r.Image == "" {
					r.Image = s.Image.Image
				}
			}
			r.ImageID = s.ImageRef
			if r.Exited {
				if msg := terminationMessage(c); msg != "" {
					r.Message = msg
				}
			}
		}
		out = append(out, r)
	}
	return out
}
