package podstatus

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testPod(policy v1.RestartPolicy, inits []string, names ...string) *v1.Pod {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}}
	pod.Spec.RestartPolicy = policy
	for _, n := range inits {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: n, Image: "img"})
	}
	for _, n := range names {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: n, Image: "img"})
	}
	pod.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue}}
	return pod
}

func running(name, id string, restarts int32) ContainerRun {
	return ContainerRun{ID: id, Name: name, RestartCount: restarts, Running: true, StartedAt: time.Unix(100, 0), CreatedAt: time.Unix(int64(100+restarts), 0)}
}

func exited(name, id string, restarts, code int32, reason string) ContainerRun {
	return ContainerRun{ID: id, Name: name, RestartCount: restarts, Exited: true, ExitCode: code, Reason: reason, StartedAt: time.Unix(100, 0), FinishedAt: time.Unix(110, 0), CreatedAt: time.Unix(int64(100+restarts), 0)}
}

func condition(s v1.PodStatus, t v1.PodConditionType) v1.ConditionStatus {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestCompute(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name         string
		pod          *v1.Pod
		runs         []ContainerRun
		waiting      map[string]Waiting
		ready        map[string]bool
		wantPhase    v1.PodPhase
		wantReady    v1.ConditionStatus
		wantInit     v1.ConditionStatus
		check        func(t *testing.T, s v1.PodStatus)
		sandboxReady bool
	}{
		{
			name:         "nothing created yet is pending, ContainerCreating",
			pod:          testPod(v1.RestartPolicyAlways, nil, "app"),
			sandboxReady: true,
			wantPhase:    v1.PodPending, wantReady: v1.ConditionFalse, wantInit: v1.ConditionTrue,
			check: func(t *testing.T, s v1.PodStatus) {
				if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
					t.Errorf("state = %+v, want waiting ContainerCreating", s.ContainerStatuses[0].State)
				}
			},
		},
		{
			name:         "running and ready",
			pod:          testPod(v1.RestartPolicyAlways, nil, "app"),
			runs:         []ContainerRun{running("app", "c1", 0)},
			ready:        map[string]bool{"c1": true},
			sandboxReady: true,
			wantPhase:    v1.PodRunning, wantReady: v1.ConditionTrue, wantInit: v1.ConditionTrue,
		},
		{
			name:         "running but readiness failing is not ready",
			pod:          testPod(v1.RestartPolicyAlways, nil, "app", "side"),
			runs:         []ContainerRun{running("app", "c1", 0), running("side", "c2", 0)},
			ready:        map[string]bool{"c1": true},
			sandboxReady: true,
			wantPhase:    v1.PodRunning, wantReady: v1.ConditionFalse,
			check: func(t *testing.T, s v1.PodStatus) {
				for _, c := range s.Conditions {
					if c.Type == v1.PodReady && c.Message != "containers with unready status: [side]" {
						t.Errorf("Ready message %q", c.Message)
					}
				}
			},
		},
		{
			name:  "restarted container shows restart count and last state",
			pod:   testPod(v1.RestartPolicyAlways, nil, "app"),
			runs:  []ContainerRun{exited("app", "c1", 0, 137, ""), running("app", "c2", 1)},
			ready: map[string]bool{"c2": true}, sandboxReady: true,
			wantPhase: v1.PodRunning, wantReady: v1.ConditionTrue,
			check: func(t *testing.T, s v1.PodStatus) {
				cs := s.ContainerStatuses[0]
				if cs.RestartCount != 1 || cs.ContainerID != "c2" || cs.State.Running == nil {
					t.Errorf("status %+v", cs)
				}
				if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 137 || lt.Reason != "Error" {
					t.Errorf("last state %+v", cs.LastTerminationState)
				}
			},
		},
		{
			name:         "crash loop back-off is waiting with the last termination",
			pod:          testPod(v1.RestartPolicyAlways, nil, "app"),
			runs:         []ContainerRun{exited("app", "c3", 2, 1, "Error")},
			waiting:      map[string]Waiting{"app": {Reason: "CrashLoopBackOff", Message: "back-off 20s"}},
			sandboxReady: true,
			wantPhase:    v1.PodRunning, wantReady: v1.ConditionFalse,
			check: func(t *testing.T, s v1.PodStatus) {
				cs := s.ContainerStatuses[0]
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.RestartCount != 2 {
					t.Errorf("state %+v restarts %d", cs.State, cs.RestartCount)
				}
				if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 {
					t.Errorf("last state %+v", cs.LastTerminationState)
				}
			},
		},
		{
			name:      "OOM kill reason is kept",
			pod:       testPod(v1.RestartPolicyNever, nil, "app"),
			runs:      []ContainerRun{exited("app", "c1", 0, 137, "OOMKilled")},
			wantPhase: v1.PodFailed, wantReady: v1.ConditionFalse,
			check: func(t *testing.T, s v1.PodStatus) {
				if r := s.ContainerStatuses[0].State.Terminated.Reason; r != "OOMKilled" {
					t.Errorf("reason %q", r)
				}
			},
		},
		{
			name:      "all succeeded with restartPolicy Never",
			pod:       testPod(v1.RestartPolicyNever, nil, "a", "b"),
			runs:      []ContainerRun{exited("a", "c1", 0, 0, ""), exited("b", "c2", 0, 0, "")},
			wantPhase: v1.PodSucceeded, wantReady: v1.ConditionFalse,
			check: func(t *testing.T, s v1.PodStatus) {
				if r := s.ContainerStatuses[0].State.Terminated.Reason; r != "Completed" {
					t.Errorf("reason %q, want Completed", r)
				}
			},
		},
		{
			name:      "OnFailure with a failed container keeps running (it restarts)",
			pod:       testPod(v1.RestartPolicyOnFailure, nil, "a"),
			runs:      []ContainerRun{exited("a", "c1", 0, 2, "")},
			wantPhase: v1.PodRunning,
		},
		{
			name:         "init container running: pending, not initialized",
			pod:          testPod(v1.RestartPolicyAlways, []string{"init1", "init2"}, "app"),
			runs:         []ContainerRun{exited("init1", "i1", 0, 0, ""), running("init2", "i2", 0)},
			sandboxReady: true,
			wantPhase:    v1.PodPending, wantInit: v1.ConditionFalse,
			check: func(t *testing.T, s v1.PodStatus) {
				if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
					t.Errorf("app state %+v", s.ContainerStatuses[0].State)
				}
				if !s.InitContainerStatuses[0].Ready || s.InitContainerStatuses[1].Ready {
					t.Errorf("init readiness %v %v", s.InitContainerStatuses[0].Ready, s.InitContainerStatuses[1].Ready)
				}
			},
		},
		{
			name:      "failed init container with Never fails the pod",
			pod:       testPod(v1.RestartPolicyNever, []string{"init"}, "app"),
			runs:      []ContainerRun{exited("init", "i1", 0, 1, "")},
			wantPhase: v1.PodFailed,
		},
		{
			name:         "image pull error is pending with the reason",
			pod:          testPod(v1.RestartPolicyAlways, nil, "app"),
			waiting:      map[string]Waiting{"app": {Reason: "ErrImagePull", Message: "no registry"}},
			sandboxReady: true,
			wantPhase:    v1.PodPending,
			check: func(t *testing.T, s v1.PodStatus) {
				if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ErrImagePull" {
					t.Errorf("state %+v", s.ContainerStatuses[0].State)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready := tc.ready
			if ready == nil {
				ready = map[string]bool{}
			}
			started := map[string]bool{}
			for _, r := range tc.runs {
				started[r.ID] = r.Running
			}
			s := Compute(Input{Pod: tc.pod, SandboxReady: tc.sandboxReady, PodIPs: []string{"10.42.0.5"}, HostIPs: []string{"192.168.0.2"},
				Runs: tc.runs, Waiting: tc.waiting, Ready: ready, Started: started, Now: now})
			if s.Phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", s.Phase, tc.wantPhase)
			}
			if tc.wantReady != "" && condition(s, v1.PodReady) != tc.wantReady {
				t.Errorf("Ready %s, want %s", condition(s, v1.PodReady), tc.wantReady)
			}
			if tc.wantInit != "" && condition(s, v1.PodInitialized) != tc.wantInit {
				t.Errorf("Initialized %s, want %s", condition(s, v1.PodInitialized), tc.wantInit)
			}
			if condition(s, v1.PodScheduled) != v1.ConditionTrue {
				t.Errorf("PodScheduled condition was dropped")
			}
			if s.PodIP != "10.42.0.5" || s.HostIP != "192.168.0.2" || len(s.PodIPs) != 1 {
				t.Errorf("IPs %s %s %v", s.PodIP, s.HostIP, s.PodIPs)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestConditionTransitionTimeKept(t *testing.T) {
	pod := testPod(v1.RestartPolicyAlways, nil, "app")
	t0 := metav1.NewTime(time.Unix(500, 0))
	pod.Status.Conditions = append(pod.Status.Conditions, v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: t0})
	s := Compute(Input{Pod: pod, SandboxReady: true, Runs: []ContainerRun{running("app", "c1", 0)}, Ready: map[string]bool{"c1": true}, Started: map[string]bool{"c1": true}, Now: time.Unix(900, 0)})
	for _, c := range s.Conditions {
		if c.Type == v1.PodReady && !c.LastTransitionTime.Equal(&t0) {
			t.Errorf("Ready transition time %v, want %v", c.LastTransitionTime, t0)
		}
	}
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim string) v1.ResourceRequirements {
		r := v1.ResourceRequirements{}
		if req != "" {
			r.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(req), v1.ResourceMemory: resource.MustParse(req + "Mi")}
		}
		if lim != "" {
			r.Limits = v1.ResourceList{v1.ResourceCPU: resource.MustParse(lim), v1.ResourceMemory: resource.MustParse(lim + "Mi")}
		}
		return r
	}
	for _, tc := range []struct {
		name string
		res  v1.ResourceRequirements
		want v1.PodQOSClass
	}{
		{"none", res("", ""), v1.PodQOSBestEffort},
		{"equal", res("1", "1"), v1.PodQOSGuaranteed},
		{"limits only", res("", "1"), v1.PodQOSGuaranteed},
		{"requests below limits", res("1", "2"), v1.PodQOSBurstable},
		{"requests only", res("1", ""), v1.PodQOSBurstable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &v1.Pod{Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: tc.res}}}}
			if got := QOSClass(pod); got != tc.want {
				t.Errorf("QOSClass = %s, want %s", got, tc.want)
			}
		})
	}
}
