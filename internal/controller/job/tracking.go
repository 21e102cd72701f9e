package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func hasTrackingFinalizer(p *corev1.Pod) bool {
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

// considerFailed reports whether a finished or deleted pod counts as a failure: it failed, or it
// is being deleted without having succeeded (a pod deleted on a lost node never reaches a terminal
// phase). Pods deleted because their Job is suspended are not failures.
func considerFailed(p *corev1.Pod, job *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if ptr.Deref(job.Spec.Suspend, false) || onlyReplaceFailed(job) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

// needsAccounting reports whether the pod's outcome must be recorded now: it carries our
// finalizer (so has not been counted), no removal is in flight, and it is done.
func needsAccounting(s *syncState, p *corev1.Pod) bool {
	if !hasTrackingFinalizer(p) || s.pendingRemoval.Has(string(p.UID)) {
		return false
	}
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || s.job.DeletionTimestamp != nil {
		return true
	}
	// A terminating pod is accounted for at once, unless the Job replaces only failed pods: then
	// it waits for the pod's final phase.
	return p.DeletionTimestamp != nil && !onlyReplaceFailed(s.job)
}

// onlyReplaceFailed: with podReplacementPolicy Failed, a replacement starts only once the old
// pod has fully terminated (phase Failed), not as soon as it is being deleted.
func onlyReplaceFailed(job *batchv1.Job) bool {
	return ptr.Deref(job.Spec.PodReplacementPolicy, batchv1.TerminatingOrFailed) == batchv1.Failed
}

// newlyFinished returns the finished pods not yet recorded in uncountedTerminatedPods.
func (c *Controller) newlyFinished(s *syncState) (succeeded, failed []*corev1.Pod) {
	for _, p := range s.pods {
		uid := string(p.UID)
		if !needsAccounting(s, p) || s.uncountedSucceeded.Has(uid) || s.uncountedFailed.Has(uid) {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			if isIndexed(s.job) {
				if ix, ok := completionIndex(p); !ok || ix >= completions(s.job) {
					continue
				}
			}
			succeeded = append(succeeded, p)
		case considerFailed(p, s.job):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// trackFinishedPods accounts for finished pods in three steps so that none is counted twice or
// lost: (1) record new UIDs in status.uncountedTerminatedPods, (2) remove the pods' finalizers,
// (3) move the UIDs whose finalizer is gone into the counters. Once the Job has met its
// criteria and all its pods are gone or accounted for, it adds the terminal condition.
func (c *Controller) trackFinishedPods(ctx context.Context, s *syncState, orig *batchv1.Job) error {
	job := s.job
	var toRemove []*corev1.Pod
	for _, p := range s.pods {
		if !needsAccounting(s, p) {
			continue
		}
		uid := string(p.UID)
		switch {
		case s.uncountedSucceeded.Has(uid) || s.uncountedFailed.Has(uid):
		case p.Status.Phase == corev1.PodSucceeded:
			if ix, ok := completionIndex(p); isIndexed(job) && (!ok || ix >= completions(job)) {
				break
			}
			s.uncountedSucceeded.Insert(uid)
		case considerFailed(p, job):
			s.uncountedFailed.Insert(uid)
		}
		toRemove = append(toRemove, p)
	}
	if isIndexed(job) {
		job.Status.CompletedIndexes = formatIndexes(s.succeededIndexes)
	}
	setUncounted(job, s.uncountedSucceeded, s.uncountedFailed)

	// Step 1: the UIDs must be stored before the finalizers go, or a crash would lose them.
	current, err := c.updateStatus(ctx, job, orig)
	if err != nil {
		return err
	}
	if current != job {
		orig = current
		job = current.DeepCopy()
		s.job = job
	}

	// Step 2.
	removed, rmErr := c.removeFinalizers(ctx, s.key, toRemove)

	// Step 3: a UID leaves the uncounted lists once its pod no longer carries the finalizer.
	withFinalizer := sets.New[string]()
	for _, p := range s.pods {
		if hasTrackingFinalizer(p) || s.pendingRemoval.Has(string(p.UID)) {
			withFinalizer.Insert(string(p.UID))
		}
	}
	withFinalizer = withFinalizer.Difference(removed)
	for _, uid := range sets.List(s.uncountedSucceeded) {
		if !withFinalizer.Has(uid) {
			s.uncountedSucceeded.Delete(uid)
			if !isIndexed(job) {
				job.Status.Succeeded++
			}
		}
	}
	for _, uid := range sets.List(s.uncountedFailed) {
		if !withFinalizer.Has(uid) {
			s.uncountedFailed.Delete(uid)
			job.Status.Failed++
		}
	}
	if isIndexed(job) {
		job.Status.Succeeded = int32(s.succeededIndexes.Len())
	}
	setUncounted(job, s.uncountedSucceeded, s.uncountedFailed)

	if s.finished != nil && c.allPodsDone(s, withFinalizer) {
		c.finish(s)
	}
	if _, err := c.updateStatus(ctx, job, orig); err != nil {
		return err
	}
	return rmErr
}

// allPodsDone reports whether every pod of the Job has terminated and been accounted for: the
// terminal condition waits for that, as upstream does since 1.31.
func (c *Controller) allPodsDone(s *syncState, withFinalizer sets.Set[string]) bool {
	if s.uncountedSucceeded.Len() > 0 || s.uncountedFailed.Len() > 0 {
		return false
	}
	for _, p := range s.pods {
		terminal := p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		if !terminal || withFinalizer.Has(string(p.UID)) {
			return false
		}
	}
	return true
}

// finish adds the terminal condition the Job was heading for.
func (c *Controller) finish(s *syncState) {
	job := s.job
	cond := s.finished
	setCondition(job, cond.Type, corev1.ConditionTrue, cond.Reason, cond.Message, s.now)
	job.Status.Active = 0
	job.Status.Ready = ptr.To[int32](0)
	if cond.Type == batchv1.JobComplete {
		job.Status.CompletionTime = &s.now
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
	} else {
		c.recorder.Event(job, corev1.EventTypeWarning, cond.Reason, cond.Message)
	}
	c.backoff.forget(s.key)
}

func setUncounted(job *batchv1.Job, succeeded, failed sets.Set[string]) {
	u := &batchv1.UncountedTerminatedPods{}
	for _, uid := range sets.List(succeeded) {
		u.Succeeded = append(u.Succeeded, types.UID(uid))
	}
	for _, uid := range sets.List(failed) {
		u.Failed = append(u.Failed, types.UID(uid))
	}
	job.Status.UncountedTerminatedPods = u
}

// removeFinalizers removes the tracking finalizer from pods in parallel and returns the UIDs it
// was removed from (or whose pod is gone).
func (c *Controller) removeFinalizers(ctx context.Context, key string, pods []*corev1.Pod) (sets.Set[string], error) {
	removed := sets.New[string]()
	if len(pods) == 0 {
		return removed, nil
	}
	uids := make([]string, 0, len(pods))
	for _, p := range pods {
		uids = append(uids, string(p.UID))
	}
	c.finalizers.expect(key, uids...)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	sem := make(chan struct{}, finalizerRemovalParallelism)
	for _, p := range pods {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := c.removeFinalizer(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				c.finalizers.cancel(key, string(p.UID))
				errs = append(errs, err)
				return
			}
			removed.Insert(string(p.UID))
		})
	}
	wg.Wait()
	return removed, errors.Join(errs...)
}

// removeFinalizer drops the tracking finalizer from pod with a merge patch guarded by the pod's
// resourceVersion, so that a concurrent change to its finalizers is never overwritten.
func (c *Controller) removeFinalizer(ctx context.Context, pod *corev1.Pod) error {
	rest := slices.DeleteFunc(slices.Clone(pod.Finalizers), func(f string) bool { return f == batchv1.JobTrackingFinalizer })
	var finalizers any = rest
	if len(rest) == 0 {
		finalizers = nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers":      finalizers,
		"resourceVersion": pod.ResourceVersion,
		"uid":             pod.UID,
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing tracking finalizer from pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// enqueueFinalizerCleanup queues every pod of a finished Job that still has our finalizer.
func (c *Controller) enqueueFinalizerCleanup(job *batchv1.Job) {
	pods, err := c.podLister.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range pods {
		if ref := controllerRefOf(p); ref != nil && ref.UID == job.UID && hasTrackingFinalizer(p) {
			c.orphanQueue.Add(p.Namespace + "/" + p.Name)
		}
	}
}

// syncOrphanPod removes the tracking finalizer from a pod no unfinished Job will account for.
func (c *Controller) syncOrphanPod(ctx context.Context, key string) error {
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
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	if ref := controllerRefOf(pod); ref != nil {
		job, err := c.jobLister.Jobs(ns).Get(ref.Name)
		if err == nil && job.UID == ref.UID && !isFinished(job) {
			return nil // its Job will count it
		}
	}
	return c.removeFinalizer(ctx, pod)
}
