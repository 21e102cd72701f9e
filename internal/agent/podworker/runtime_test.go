package podworker

import (
	"testing"
	"time"

	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestOOMVerdictPending(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	run := func(name string, restarts int32, state criapi.ContainerState, exit int32, reason string, finishedAgo time.Duration) *containerInfo {
		return &containerInfo{id: name, name: name, state: state, restartCount: restarts, createdAt: now.Add(-time.Minute),
			status: &criapi.ContainerStatus{State: state, ExitCode: exit, Reason: reason, FinishedAt: now.Add(-finishedAgo).UnixNano()}}
	}
	exited, running := criapi.ContainerState_CONTAINER_EXITED, criapi.ContainerState_CONTAINER_RUNNING
	for _, tc := range []struct {
		name       string
		containers []*containerInfo
		want       time.Duration
	}{
		{"nothing exited", []*containerInfo{run("a", 0, running, 0, "", 0)}, 0},
		{"SIGKILL just now, reason Error", []*containerInfo{run("a", 0, exited, 137, "Error", 200*time.Millisecond)}, 800 * time.Millisecond},
		{"SIGKILL, OOMKilled already", []*containerInfo{run("a", 0, exited, 137, "OOMKilled", 0)}, 0},
		{"SIGKILL long ago", []*containerInfo{run("a", 0, exited, 137, "Error", 5*time.Second)}, 0},
		{"exit 1 just now", []*containerInfo{run("a", 0, exited, 1, "Error", 0)}, 0},
		{"an older run only", []*containerInfo{run("a", 1, running, 0, "", 0), {id: "old", name: "a",
			state: exited, status: &criapi.ContainerStatus{State: exited, ExitCode: 137, Reason: "Error", FinishedAt: now.UnixNano()}}}, 0},
		{"longest wait of two", []*containerInfo{run("a", 0, exited, 137, "Error", 900*time.Millisecond),
			run("b", 0, exited, 137, "", 100*time.Millisecond)}, 900 * time.Millisecond},
	} {
		st := &runtimeState{containers: tc.containers}
		if got := st.oomVerdictPending(now); got != tc.want {
			t.Errorf("%s: wait %v, want %v", tc.name, got, tc.want)
		}
	}
}
