package nodelifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// syncPod decides whether the pod key must leave its node because of NoExecute taints, and
// deletes it when its tolerations run out (or schedules a recheck for that moment).
func (c *Controller) syncPod(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting pod %s: %w", key, err)
	}
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	node, err := c.nodeLister.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil // pod GC handles pods of vanished nodes
	}
	if err != nil {
		return fmt.Errorf("getting node %s: %w", pod.Spec.NodeName, err)
	}
	if readyStatus(node) != corev1.ConditionTrue && podReady(pod) {
		if err := c.markPodsNotReady(ctx, node.Name); err != nil {
			return err
		}
	}
	wait, evict := evictionDelay(pod, node, c.clock.Now())
	if !evict {
		return nil
	}
	if wait > 0 {
		c.podQueue.AddAfter(key, wait)
		return nil
	}
	return c.evict(ctx, pod)
}

// evictionDelay reports whether pod must be evicted from node because of NoExecute taints, and
// how long from now that is due. A taint the pod does not tolerate evicts at once; otherwise the
// smallest tolerationSeconds among the matching tolerations counts from when the taint was added.
func evictionDelay(pod *corev1.Pod, node *corev1.Node, now time.Time) (time.Duration, bool) {
	var taints []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			taints = append(taints, t)
		}
	}
	if len(taints) == 0 {
		return 0, false
	}
	logger := klog.Background()
	minSeconds := int64(-1) // -1: tolerated forever
	var since time.Time
	for i := range taints {
		taint := &taints[i]
		tolerated := false
		for j := range pod.Spec.Tolerations {
			tol := &pod.Spec.Tolerations[j]
			if !tol.ToleratesTaint(logger, taint, true) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				continue
			}
			secs := max(*tol.TolerationSeconds, 0)
			if minSeconds < 0 || secs < minSeconds {
				minSeconds = secs
			}
		}
		if !tolerated {
			return 0, true
		}
		if taint.TimeAdded != nil && (since.IsZero() || taint.TimeAdded.Time.Before(since)) {
			since = taint.TimeAdded.Time
		}
	}
	if minSeconds < 0 {
		return 0, false
	}
	if since.IsZero() {
		since = now
	}
	due := since.Add(time.Duration(minSeconds) * time.Second)
	if !due.After(now) {
		return 0, true
	}
	return due.Sub(now), true
}

// evict records why the pod goes (a DisruptionTarget condition) and deletes it gracefully.
func (c *Controller) evict(ctx context.Context, pod *corev1.Pod) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.PodCondition{{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reasonDeletionByTaintMgr,
		Message: "Taint manager: deleting due to NoExecute taint", LastTransitionTime: metav1.NewTime(c.clock.Now()),
	}}}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("marking pod %s/%s for eviction: %w", pod.Namespace, pod.Name, err)
	}
	c.recorder.Eventf(pod, corev1.EventTypeNormal, reasonTaintEviction, "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	err = c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("evicting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
