package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var testNow = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(testNow.Add(-d)) }

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}
}

func containers(names ...string) []corev1.Container {
	out := make([]corev1.Container, len(names))
	for i, n := range names {
		out[i] = corev1.Container{Name: n, Image: n + ":latest"}
	}
	return out
}

func TestSummarizePod(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	yes := true
	deleted := ago(time.Second)
	tests := []struct {
		name string
		pod  corev1.Pod
		want podSummary
	}{
		{
			name: "pending without statuses",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodPending},
			},
			want: podSummary{"0/1", "Pending", "0"},
		},
		{
			name: "running and ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("app", "log")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "app", Ready: true, State: running()},
					{Name: "log", Ready: false, State: running()},
				}},
			},
			want: podSummary{"1/2", "Running", "0"},
		},
		{
			name: "container creating",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "app", State: waiting("ContainerCreating")},
				}},
			},
			want: podSummary{"0/1", "ContainerCreating", "0"},
		},
		{
			name: "crash loop with restarts and last restart time",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
					Name: "app", State: waiting("CrashLoopBackOff"), RestartCount: 2,
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
						ExitCode: 1, FinishedAt: ago(5 * time.Minute),
					}},
				}}},
			},
			want: podSummary{"0/1", "CrashLoopBackOff", "2 (5m ago)"},
		},
		{
			name: "restarts without a last termination time",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "app", Ready: true, State: running(), RestartCount: 3},
				}},
			},
			want: podSummary{"1/1", "Running", "3"},
		},
		{
			name: "completed",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("Completed", 0)},
				}},
			},
			want: podSummary{"0/1", "Completed", "0"},
		},
		{
			name: "terminated with error reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("Error", 1)},
				}},
			},
			want: podSummary{"0/1", "Error", "0"},
		},
		{
			name: "terminated by signal without reason",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Signal: 9}}},
				}},
			},
			want: podSummary{"0/1", "Signal:9", "0"},
		},
		{
			name: "one completed one running and pod ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
					ContainerStatuses: []corev1.ContainerStatus{
						{Name: "a", State: terminated("Completed", 0)},
						{Name: "b", Ready: true, State: running()},
					},
				},
			},
			want: podSummary{"1/2", "Running", "0"},
		},
		{
			name: "one completed one running but pod not ready",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("a", "b")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "a", State: terminated("Completed", 0)},
					{Name: "b", Ready: true, State: running()},
				}},
			},
			want: podSummary{"1/2", "NotReady", "0"},
		},
		{
			name: "init container running",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("init"), Containers: containers("app")},
				Status: corev1.PodStatus{
					Phase:                 corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: running()}},
					ContainerStatuses:     []corev1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}},
				},
			},
			want: podSummary{"0/1", "Init:0/1", "0"},
		},
		{
			name: "second init container pending",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("i1", "i2"), Containers: containers("app")},
				Status: corev1.PodStatus{
					Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "i1", State: terminated("Completed", 0)},
						{Name: "i2", State: waiting("PodInitializing")},
					},
				},
			},
			want: podSummary{"0/1", "Init:1/2", "0"},
		},
		{
			name: "init container crash looping counts its restarts",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("init"), Containers: containers("app")},
				Status: corev1.PodStatus{
					Phase: corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{{
						Name: "init", State: waiting("CrashLoopBackOff"), RestartCount: 4,
						LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(90 * time.Second)}},
					}},
				},
			},
			want: podSummary{"0/1", "Init:CrashLoopBackOff", "4 (90s ago)"},
		},
		{
			name: "init container failed",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{InitContainers: containers("init"), Containers: containers("app")},
				Status: corev1.PodStatus{
					Phase:                 corev1.PodPending,
					InitContainerStatuses: []corev1.ContainerStatus{{Name: "init", State: terminated("", 2)}},
				},
			},
			want: podSummary{"0/1", "Init:ExitCode:2", "0"},
		},
		{
			name: "started sidecar counts as a ready container",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "proxy", RestartPolicy: &always}},
					Containers:     containers("app"),
				},
				Status: corev1.PodStatus{
					Phase:      corev1.PodRunning,
					Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
					InitContainerStatuses: []corev1.ContainerStatus{
						{Name: "proxy", Started: &yes, Ready: true, State: running(), RestartCount: 1},
					},
					ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running()}},
				},
			},
			want: podSummary{"2/2", "Running", "1"},
		},
		{
			name: "terminating",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "app", Ready: true, State: running()},
				}},
			},
			want: podSummary{"1/1", "Terminating", "0"},
		},
		{
			name: "deleted after completion keeps its status",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("job")},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
					{Name: "job", State: terminated("Completed", 0)},
				}},
			},
			want: podSummary{"0/1", "Completed", "0"},
		},
		{
			name: "deleted on a lost node",
			pod: corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Spec:       corev1.PodSpec{Containers: containers("app")},
				Status:     corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"},
			},
			want: podSummary{"0/1", "Unknown", "0"},
		},
		{
			name: "status reason wins over phase",
			pod: corev1.Pod{
				Spec:   corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"},
			},
			want: podSummary{"0/1", "Evicted", "0"},
		},
		{
			name: "scheduling gated",
			pod: corev1.Pod{
				Spec: corev1.PodSpec{Containers: containers("app")},
				Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
					{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
				}},
			},
			want: podSummary{"0/1", "SchedulingGated", "0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarizePod(&tt.pod, testNow); got != tt.want {
				t.Errorf("summarizePod() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPodWideCells(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", CreationTimestamp: ago(200 * time.Second)},
		Spec: corev1.PodSpec{
			Containers:     containers("app"),
			NodeName:       "node-a",
			ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}},
		},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			PodIPs:     []corev1.PodIP{{IP: "10.42.0.7"}, {IP: "fd00::7"}},
			Conditions: []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}},
		},
	}
	cells, err := podPrinter().Row(pod, testNow)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"web-0", "0/1", "Running", "0", "3m20s", "10.42.0.7", "node-a", "<none>", "1/2"}
	assertCells(t, cells, want)
}

func assertCells(t *testing.T, got, want []interface{}) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d cells %v, want %d %v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cell %d = %#v, want %#v", i, got[i], want[i])
		}
	}
}
