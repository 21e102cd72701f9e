package printers

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// nodeLostReason is the pod status reason the node lifecycle controller sets on
// pods of an unreachable node; such pods show as "Unknown" once being deleted.
const nodeLostReason = "NodeLost"

func podPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
			column("Status", "string", "The aggregate status of the containers in this pod."),
			column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
			ageColumn(),
			wideColumn("IP", "string", corev1.PodStatus{}.SwaggerDoc()["podIP"]),
			wideColumn("Node", "string", corev1.PodSpec{}.SwaggerDoc()["nodeName"]),
			wideColumn("Nominated Node", "string", corev1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]),
			wideColumn("Readiness Gates", "string", corev1.PodSpec{}.SwaggerDoc()["readinessGates"]),
		},
		Row: rowOf(func(pod *corev1.Pod, now time.Time) ([]interface{}, error) {
			s := summarizePod(pod, now)
			return []interface{}{
				pod.Name, s.ready, s.status, s.restarts, AgeSince(pod.CreationTimestamp.Time, now),
				orNone(podIP(pod)), orNone(pod.Spec.NodeName), orNone(pod.Status.NominatedNodeName), readinessGates(pod),
			}, nil
		}),
	}
}

// podSummary holds the READY, STATUS and RESTARTS cells of a pod.
type podSummary struct {
	ready, status, restarts string
}

// summarizePod computes READY, STATUS and RESTARTS the way kubectl users know
// them: STATUS starts from the phase (or status.reason) and is refined by init
// containers ("Init:1/2", "Init:CrashLoopBackOff"), then by the app containers'
// waiting or terminated reasons, and finally by deletion ("Terminating").
// Restartable init containers (sidecars) count as app containers for READY and
// RESTARTS once the pod is initialized.
func summarizePod(pod *corev1.Pod, now time.Time) podSummary {
	restarts := 0
	sidecarRestarts := 0
	var lastRestart, lastSidecarRestart time.Time
	total := len(pod.Spec.Containers)
	ready := 0

	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			reason = corev1.PodReasonSchedulingGated
		}
	}

	sidecars := make(map[string]bool)
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			total++
		}
	}

	initializing := false
	for i, cs := range pod.Status.InitContainerStatuses {
		restarts += int(cs.RestartCount)
		finished := lastTerminationTime(cs)
		lastRestart = latest(lastRestart, finished)
		if sidecars[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			lastSidecarRestart = latest(lastSidecarRestart, finished)
		}
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case sidecars[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				ready++
			}
			continue
		case cs.State.Terminated != nil:
			// A failed init container holds the pod in initialization.
			t := cs.State.Terminated
			switch {
			case t.Reason != "":
				reason = "Init:" + t.Reason
			case t.Signal != 0:
				reason = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		// The first init container that has not finished decides the status.
		initializing = true
		break
	}

	if !initializing || podInitialized(pod) {
		// Once initialized, only sidecar restarts carry over from init containers.
		restarts = sidecarRestarts
		lastRestart = lastSidecarRestart
		hasRunning := false
		errorReason := ""
		// Walk backwards so the first container's state wins, as upstream does.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := pod.Status.ContainerStatuses[i]
			restarts += int(cs.RestartCount)
			lastRestart = latest(lastRestart, lastTerminationTime(cs))
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				t := cs.State.Terminated
				switch {
				case t.Reason != "":
					reason = t.Reason
				case t.Signal != 0:
					reason = fmt.Sprintf("Signal:%d", t.Signal)
				default:
					reason = fmt.Sprintf("ExitCode:%d", t.ExitCode)
				}
				if t.ExitCode != 0 {
					errorReason = reason
				}
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		// A pod whose containers partly completed is still running if another
		// container runs; surface a failure over "Completed" otherwise.
		if reason == "Completed" {
			switch {
			case hasRunning && podReady(pod):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil && pod.Status.Reason == nodeLostReason {
		reason = "Unknown"
	} else if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		reason = "Terminating"
	}

	restartsCell := fmt.Sprintf("%d", restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartsCell = fmt.Sprintf("%d (%s ago)", restarts, Age(now.Sub(lastRestart)))
	}
	return podSummary{
		ready:    fmt.Sprintf("%d/%d", ready, total),
		status:   reason,
		restarts: restartsCell,
	}
}

func lastTerminationTime(cs corev1.ContainerStatus) time.Time {
	if t := cs.LastTerminationState.Terminated; t != nil {
		return t.FinishedAt.Time
	}
	return time.Time{}
}

func podInitialized(pod *corev1.Pod) bool {
	return podCondition(pod, corev1.PodInitialized) == corev1.ConditionTrue
}

func podReady(pod *corev1.Pod) bool {
	return podCondition(pod, corev1.PodReady) == corev1.ConditionTrue
}

func podCondition(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func podIP(pod *corev1.Pod) string {
	if len(pod.Status.PodIPs) > 0 {
		return pod.Status.PodIPs[0].IP
	}
	return pod.Status.PodIP
}

// readinessGates reads "true gates/all gates", or "<none>" without gates.
func readinessGates(pod *corev1.Pod) string {
	if len(pod.Spec.ReadinessGates) == 0 {
		return none
	}
	met := 0
	for _, g := range pod.Spec.ReadinessGates {
		if podCondition(pod, g.ConditionType) == corev1.ConditionTrue {
			met++
		}
	}
	return fmt.Sprintf("%d/%d", met, len(pod.Spec.ReadinessGates))
}

func orNone(s string) string {
	if s == "" {
		return none
	}
	return s
}

func podTemplatePrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Containers", "string", "Names of each container in the template."),
			column("Images", "string", "Images referenced by each container in the template."),
			column("Pod Labels", "string", "The labels for the pod template."),
		},
		Row: rowOf(func(pt *corev1.PodTemplate, now time.Time) ([]interface{}, error) {
			names, images := containerCells(pt.Template.Spec.Containers)
			return []interface{}{pt.Name, names, images, labels.FormatLabels(pt.Template.Labels)}, nil
		}),
	}
}
