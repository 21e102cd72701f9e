package simnode

import (
	"context"
	"fmt"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

func (f *fleet) enqueuePod(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok || f.nodes[pod.Spec.NodeName] == nil {
		return
	}
	f.queue.Add(pod.Namespace + "/" + pod.Name)
}

func (f *fleet) processNextPod(ctx context.Context) bool {
	key, quit := f.queue.Get()
	if quit {
		return false
	}
	defer f.queue.Done(key)
	after, err := f.syncPod(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			klog.FromContext(ctx).V(2).Info("Pod sync failed, retrying", "pod", key, "err", err)
		}
		f.queue.AddRateLimited(key)
	default:
		f.queue.Forget(key)
		if after > 0 {
			f.queue.AddAfter(key, after)
		}
	}
	return true
}

// syncPod moves one pod bound to a simulated node along its life: Pending
// → Running, Running → Succeeded/Failed for pods that terminate, deleted
// once marked for deletion. It returns when to look again (0: only on the
// next change).
func (f *fleet) syncPod(ctx context.Context, key string) (time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return 0, nil
	}
	pod, err := f.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		f.ips.release(key)
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := f.nodes[pod.Spec.NodeName]
	if n == nil {
		return 0, nil
	}
	n.mu.Lock()
	podCIDR, nodeGone := n.podCIDR, n.deleted
	n.mu.Unlock()

	if pod.DeletionTimestamp != nil {
		// The containers "stopped" at once; remove the pod as a kubelet does.
		err := f.client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{
			GracePeriodSeconds: new(int64),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return 0, fmt.Errorf("delete pod %s: %w", key, err)
		}
		f.ips.release(key)
		return 0, nil
	}
	if nodeGone {
		return 0, nil
	}
	switch pod.Status.Phase {
	case v1.PodSucceeded, v1.PodFailed:
		f.ips.release(key)
		return 0, nil
	case v1.PodRunning:
		if pod.Status.PodIP != "" {
			f.ips.reserve(key, podCIDR, pod.Status.PodIP)
		}
		if !terminates(pod) {
			return 0, nil
		}
		started := f.clock.Now()
		if pod.Status.StartTime != nil {
			started = pod.Status.StartTime.Time
		}
		if left := started.Add(f.runDuration(pod)).Sub(f.clock.Now()); left > 0 {
			return left, nil
		}
		return 0, f.finish(ctx, pod)
	default:
		if err := f.start(ctx, pod, n, podCIDR); err != nil {
			return 0, err
		}
		if terminates(pod) {
			return f.runDuration(pod), nil
		}
		return 0, nil
	}
}

// terminates: pods of Jobs, and pods whose containers are not restarted
// forever, finish after their run duration.
func terminates(pod *v1.Pod) bool {
	for _, ref := range pod.OwnerReferences {
		if ref.Kind == "Job" {
			return true
		}
	}
	return pod.Spec.RestartPolicy != "" && pod.Spec.RestartPolicy != v1.RestartPolicyAlways
}

func (f *fleet) runDuration(pod *v1.Pod) time.Duration {
	if s, ok := pod.Annotations[AnnotationDuration]; ok {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			return d
		}
	}
	return f.opts.JobPodDuration
}

func exitCode(pod *v1.Pod) int32 {
	if s, ok := pod.Annotations[AnnotationExitCode]; ok {
		if c, err := strconv.ParseInt(s, 10, 32); err == nil {
			return int32(c)
		}
	}
	return 0
}

// start reports the pod Running and Ready with an IP.
func (f *fleet) start(ctx context.Context, pod *v1.Pod, n *simNode, podCIDR string) error {
	key := pod.Namespace + "/" + pod.Name
	ip := f.ips.allocate(key, podCIDR)
	if ip == "" {
		return fmt.Errorf("pod %s: no pod IP left in %s", key, f.opts.PodIPCIDR)
	}
	now := metav1.NewTime(f.clock.Now())
	out := pod.DeepCopy()
	st := &out.Status
	st.Phase = v1.PodRunning
	st.HostIP = n.ip
	st.HostIPs = []v1.HostIP{{IP: n.ip}}
	st.PodIP = ip
	st.PodIPs = []v1.PodIP{{IP: ip}}
	st.StartTime = &now
	st.Reason, st.Message = "", ""
	for _, c := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.ContainersReady, v1.PodReady, v1.PodScheduled} {
		setCondition(st, c, v1.ConditionTrue, "", now)
	}
	st.InitContainerStatuses = make([]v1.ContainerStatus, 0, len(out.Spec.InitContainers))
	for i := range out.Spec.InitContainers {
		c := &out.Spec.InitContainers[i]
		cs := containerStatus(pod, c, now)
		if c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways {
			// Plain init containers ran to completion before the others.
			cs.Ready, cs.Started = false, ptrFalse()
			cs.State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now, ContainerID: cs.ContainerID,
			}}
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	st.ContainerStatuses = make([]v1.ContainerStatus, 0, len(out.Spec.Containers))
	for i := range out.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, containerStatus(pod, &out.Spec.Containers[i], now))
	}
	if _, err := f.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			f.ips.release(key)
			return nil
		}
		return fmt.Errorf("report pod %s running: %w", key, err)
	}
	return nil
}

// finish reports a terminating pod Succeeded (or Failed, per annotation).
func (f *fleet) finish(ctx context.Context, pod *v1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	code := exitCode(pod)
	now := metav1.NewTime(f.clock.Now())
	out := pod.DeepCopy()
	st := &out.Status
	reason := "Completed"
	st.Phase = v1.PodSucceeded
	if code != 0 {
		reason = "Error"
		st.Phase = v1.PodFailed
	}
	for _, c := range []v1.PodConditionType{v1.PodReady, v1.ContainersReady} {
		setCondition(st, c, v1.ConditionFalse, "PodCompleted", now)
	}
	setCondition(st, v1.PodReadyToStartContainers, v1.ConditionFalse, "", now)
	terminate := func(cs []v1.ContainerStatus) {
		for i := range cs {
			if cs[i].State.Terminated != nil {
				continue
			}
			started := now
			if cs[i].State.Running != nil {
				started = cs[i].State.Running.StartedAt
			}
			cs[i].Ready, cs[i].Started = false, ptrFalse()
			cs[i].State = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: now, ContainerID: cs[i].ContainerID,
			}}
		}
	}
	terminate(st.InitContainerStatuses)
	terminate(st.ContainerStatuses)
	if _, err := f.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, out, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("report pod %s finished: %w", key, err)
	}
	f.ips.release(key)
	return nil
}

func containerStatus(pod *v1.Pod, c *v1.Container, now metav1.Time) v1.ContainerStatus {
	started := true
	return v1.ContainerStatus{
		Name:         c.Name,
		Image:        c.Image,
		ImageID:      c.Image,
		ContainerID:  fmt.Sprintf("simulated://%s-%s", pod.UID, c.Name),
		Ready:        true,
		Started:      &started,
		RestartCount: 0,
		State:        v1.ContainerState{Running: &v1.ContainerStateRunning{StartedAt: now}},
	}
}

func ptrFalse() *bool { b := false; return &b }

// setCondition sets a pod condition, keeping its transition time when the
// status does not change.
func setCondition(st *v1.PodStatus, t v1.PodConditionType, s v1.ConditionStatus, reason string, now metav1.Time) {
	for i := range st.Conditions {
		c := &st.Conditions[i]
		if c.Type != t {
			continue
		}
		if c.Status != s {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message = s, reason, ""
		return
	}
	st.Conditions = append(st.Conditions, v1.PodCondition{Type: t, Status: s, Reason: reason, LastTransitionTime: now})
}
