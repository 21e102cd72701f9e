// Package podstatus computes a pod's API status from what the runtime
// reports about its sandbox and containers, with upstream's rules for
// container states, restart counts, phases and conditions.
package podstatus

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ContainerRun is one run (instance) of a container as the runtime reports it.
type ContainerRun struct {
	ID           string // "containerd://<id>"
	Name         string
	RestartCount int32
	Running      bool
	Exited       bool
	CreatedAt    time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
	ExitCode     int32
	Reason       string // runtime's reason: "OOMKilled", "Completed", "Error"
	Message      string
	Image        string
	ImageID      string
}

// Waiting is why a container is not running, as the pod worker decided
// (CrashLoopBackOff, ErrImagePull, CreateContainerConfigError, ...).
type Waiting struct {
	Reason  string
	Message string
}

// Input is everything Compute needs.
type Input struct {
	Pod *v1.Pod
	// SandboxReady: the pod's sandbox is running and has its network.
	SandboxReady bool
	PodIPs       []string
	HostIPs      []string
	// Runs are the pod's container runs, any order; per name the newest
	// (highest RestartCount, then latest created) is the current one.
	Runs []ContainerRun
	// Waiting holds the worker's reason for containers it did not (re)start.
	Waiting map[string]Waiting
	// Ready and Started are the probe results by container ID.
	Ready   map[string]bool
	Started map[string]bool
	Now     time.Time
}

// Compute returns the pod's new status.
func Compute(in Input) v1.PodStatus {
	pod := in.Pod
	old := pod.Status
	now := metav1.NewTime(in.Now)
	status := v1.PodStatus{
		HostIP:            first(in.HostIPs),
		PodIP:             first(in.PodIPs),
		QOSClass:          QOSClass(pod),
		StartTime:         old.StartTime,
		NominatedNodeName: old.NominatedNodeName,
	}
	if status.StartTime == nil {
		status.StartTime = &now
	}
	for _, ip := range in.HostIPs {
		status.HostIPs = append(status.HostIPs, v1.HostIP{IP: ip})
	}
	for _, ip := range in.PodIPs {
		status.PodIPs = append(status.PodIPs, v1.PodIP{IP: ip})
	}

	byName := map[string][]ContainerRun{}
	for _, r := range in.Runs {
		byName[r.Name] = append(byName[r.Name], r)
	}
	for name := range byName {
		runs := byName[name]
		sort.Slice(runs, func(i, j int) bool {
			if runs[i].RestartCount != runs[j].RestartCount {
				return runs[i].RestartCount > runs[j].RestartCount
			}
			return runs[i].CreatedAt.After(runs[j].CreatedAt)
		})
	}

	status.InitContainerStatuses = containerStatuses(in, pod.Spec.InitContainers, byName, true)
	status.ContainerStatuses = containerStatuses(in, pod.Spec.Containers, byName, false)
	status.Phase = Phase(pod, status.InitContainerStatuses, status.ContainerStatuses)
	if old.Phase == v1.PodSucceeded || old.Phase == v1.PodFailed {
		status.Phase = old.Phase // terminal phases are final
	}
	status.Conditions = conditions(in, status)
	return status
}

func containerStatuses(in Input, specs []v1.Container, byName map[string][]ContainerRun, init bool) []v1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	out := make([]v1.ContainerStatus, 0, len(specs))
	for _, c := range specs {
		cs := v1.ContainerStatus{Name: c.Name, Image: c.Image}
		runs := byName[c.Name]
		if len(runs) == 0 {
			reason := "ContainerCreating"
			if init {
				reason = "PodInitializing"
			} else if len(in.Pod.Spec.InitContainers) > 0 && !initDone(in.Pod, byName) {
				reason = "PodInitializing"
			}
			w := Waiting{Reason: reason}
			if wr, ok := in.Waiting[c.Name]; ok {
				w = wr
			}
			cs.State.Waiting = &v1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
			started := false
			cs.Started = &started
			out = append(out, cs)
			continue
		}
		cur := runs[0]
		cs.RestartCount = cur.RestartCount
		cs.ContainerID = cur.ID
		if cur.ImageID != "" {
			cs.ImageID = cur.ImageID
		}
		if cur.Image != "" {
			cs.Image = cur.Image
		}
		cs.State = runState(cur)
		if len(runs) > 1 && runs[1].Exited {
			cs.LastTerminationState = runState(runs[1])
		}
		if wr, ok := in.Waiting[c.Name]; ok && !cur.Running {
			if cs.State.Terminated != nil {
				cs.LastTerminationState = cs.State
			}
			cs.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: wr.Reason, Message: wr.Message}}
		}
		started := cur.Running && in.Started[cur.ID]
		cs.Started = &started
		cs.Ready = cur.Running && in.Ready[cur.ID]
		if init && cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0 {
			cs.Ready = true
		}
		out = append(out, cs)
	}
	return out
}

func runState(r ContainerRun) v1.ContainerState {
	switch {
	case r.Running:
		return v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: metav1.NewTime(r.StartedAt)}}
	case r.Exited:
		reason := r.Reason
		if reason == "" {
			reason = "Error"
			if r.ExitCode == 0 {
				reason = "Completed"
			}
		}
		t := &v1.ContainerStateTerminated{
			ExitCode:    r.ExitCode,
			Reason:      reason,
			Message:     r.Message,
			FinishedAt:  metav1.NewTime(r.FinishedAt),
			ContainerID: r.ID,
		}
		if !r.StartedAt.IsZero() {
			t.StartedAt = metav1.NewTime(r.StartedAt)
		}
		return v1.ContainerState{Terminated: t}
	default:
		return v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}
	}
}

func initDone(pod *v1.Pod, byName map[string][]ContainerRun) bool {
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(c) {
			continue
		}
		runs := byName[c.Name]
		if len(runs) == 0 || !runs[0].Exited || runs[0].ExitCode != 0 {
			return false
		}
	}
	return true
}

func isSidecar(c v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// Phase applies upstream's phase rules to the container statuses.
func Phase(pod *v1.Pod, initStatuses, statuses []v1.ContainerStatus) v1.PodPhase {
	policy := pod.Spec.RestartPolicy
	pendingInit, failedInit := 0, 0
	initByName := map[string]v1.ContainerStatus{}
	for _, s := range initStatuses {
		initByName[s.Name] = s
	}
	for _, c := range pod.Spec.InitContainers {
		if isSidecar(c) {
			continue
		}
		s, ok := initByName[c.Name]
		switch {
		case !ok:
			pendingInit++
		case s.State.Running != nil:
			pendingInit++
		case s.State.Terminated != nil:
			if s.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case s.State.Waiting != nil:
			if t := s.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 {
				failedInit++
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}
	if failedInit > 0 && policy == v1.RestartPolicyNever {
		return v1.PodFailed
	}
	if pendingInit > 0 || failedInit > 0 {
		return v1.PodPending
	}
	byName := map[string]v1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.Name] = s
	}
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for _, c := range pod.Spec.Containers {
		s, ok := byName[c.Name]
		switch {
		case !ok:
			unknown++
		case s.State.Running != nil:
			running++
		case s.State.Terminated != nil:
			stopped++
			if s.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case s.State.Waiting != nil:
			if s.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	switch {
	case waiting > 0:
		return v1.PodPending
	case running > 0 && unknown == 0:
		return v1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if policy == v1.RestartPolicyAlways {
			return v1.PodRunning
		}
		if stopped == succeeded {
			return v1.PodSucceeded
		}
		if policy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
		return v1.PodRunning
	default:
		return v1.PodPending
	}
}

func conditions(in Input, status v1.PodStatus) []v1.PodCondition {
	pod := in.Pod
	var out []v1.PodCondition
	// Keep conditions other components own (PodScheduled, DisruptionTarget, readiness gates).
	owned := map[v1.PodConditionType]bool{
		v1.PodReadyToStartContainers: true, v1.PodInitialized: true, v1.ContainersReady: true, v1.PodReady: true,
	}
	scheduled := false
	for _, c := range pod.Status.Conditions {
		if !owned[c.Type] {
			out = append(out, c)
		}
		scheduled = scheduled || c.Type == v1.PodScheduled
	}
	if !scheduled {
		// A pod bound by spec.nodeName never went through a scheduler; it is
		// scheduled all the same, as the kubelet reports.
		out = append(out, v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(in.Now)})
	}
	set := func(t v1.PodConditionType, ok bool, reason, message string) {
		c := v1.PodCondition{Type: t, Status: v1.ConditionFalse, Reason: reason, Message: message}
		if ok {
			c.Status, c.Reason, c.Message = v1.ConditionTrue, "", ""
		}
		c.LastTransitionTime = metav1.NewTime(in.Now)
		for _, prev := range pod.Status.Conditions {
			if prev.Type == t && prev.Status == c.Status {
				c.LastTransitionTime = prev.LastTransitionTime
			}
		}
		c.LastProbeTime = metav1.Time{}
		out = append(out, c)
	}
	terminal := status.Phase == v1.PodSucceeded || status.Phase == v1.PodFailed

	set(v1.PodReadyToStartContainers, in.SandboxReady && !terminal, "", "")

	var incomplete []string
	for _, s := range status.InitContainerStatuses {
		if t := s.State.Terminated; t == nil || t.ExitCode != 0 {
			if spec := findInit(pod, s.Name); spec != nil && isSidecar(*spec) && s.State.Running != nil {
				continue
			}
			incomplete = append(incomplete, s.Name)
		}
	}
	initialized := len(incomplete) == 0 || status.Phase == v1.PodSucceeded
	initMsg := ""
	if !initialized {
		initMsg = fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(incomplete, " "))
	}
	set(v1.PodInitialized, initialized, "ContainersNotInitialized", initMsg)

	var unready []string
	for _, s := range status.ContainerStatuses {
		if !s.Ready {
			unready = append(unready, s.Name)
		}
	}
	containersReady := len(unready) == 0 && len(status.ContainerStatuses) > 0 && !terminal
	reason, msg := "ContainersNotReady", ""
	if terminal {
		reason = "PodCompleted"
	} else if len(unready) > 0 {
		msg = fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))
	}
	set(v1.ContainersReady, containersReady, reason, msg)

	ready := containersReady
	readyReason, readyMsg := reason, msg
	if ready {
		for _, gate := range pod.Spec.ReadinessGates {
			found := false
			for _, c := range pod.Status.Conditions {
				if c.Type == gate.ConditionType && c.Status == v1.ConditionTrue {
					found = true
				}
			}
			if !found {
				ready = false
				readyReason = "ReadinessGatesNotReady"
				readyMsg = fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist or is not true", gate.ConditionType)
			}
		}
	}
	set(v1.PodReady, ready, readyReason, readyMsg)
	return out
}

func findInit(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// QOSClass is the pod's quality-of-service class: Guaranteed when every
// container has equal cpu and memory requests and limits, BestEffort when
// none has any, Burstable otherwise.
func QOSClass(pod *v1.Pod) v1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	all := append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	anyResource := false
	guaranteed := true
	for _, c := range all {
		for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				anyResource = true
			}
			if !hasLim {
				guaranteed = false
				continue
			}
			if hasReq && req.Cmp(lim) != 0 {
				guaranteed = false
			}
		}
	}
	switch {
	case !anyResource:
		return v1.PodQOSBestEffort
	case guaranteed:
		return v1.PodQOSGuaranteed
	default:
		return v1.PodQOSBurstable
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
