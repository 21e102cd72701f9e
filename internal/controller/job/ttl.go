package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// handleTTL deletes a finished Job once ttlSecondsAfterFinished have passed since it finished,
// or schedules another look for that moment (upstream's ttl-after-finished controller).
func (c *Controller) handleTTL(ctx context.Context, key string, job *batchv1.Job) error {
	wait, due := ttlRemaining(job, c.clock.Now())
	if !due {
		return nil
	}
	if wait > 0 {
		c.queue.AddAfter(key, wait)
		return nil
	}
	// The cached copy may be stale (the TTL changed, or the Job was recreated): decide on a
	// fresh read.
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s: %w", key, err)
	}
	if wait, due := ttlRemaining(fresh, c.clock.Now()); !due || wait > 0 || fresh.DeletionTimestamp != nil {
		if due && wait > 0 {
			c.queue.AddAfter(key, wait)
		}
		return nil
	}
	klog.FromContext(ctx).V(2).Info("deleting job after its TTL", "job", key)
	policy := metav1.DeletePropagationBackground
	err = c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s after its TTL: %w", key, err)
	}
	return nil
}

// ttlRemaining reports whether a TTL applies to the finished job, and how long until it expires.
func ttlRemaining(job *batchv1.Job, now time.Time) (time.Duration, bool) {
	if job.Spec.TTLSecondsAfterFinished == nil || !isFinished(job) {
		return 0, false
	}
	var finishedAt time.Time
	for _, cond := range job.Status.Conditions {
		if (cond.Type == batchv1.JobComplete || cond.Type == batchv1.JobFailed) && cond.Status == corev1.ConditionTrue {
			finishedAt = cond.LastTransitionTime.Time
		}
	}
	if finishedAt.IsZero() && job.Status.CompletionTime != nil {
		finishedAt = job.Status.CompletionTime.Time
	}
	expire := finishedAt.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	return max(expire.Sub(now), 0), true
}
