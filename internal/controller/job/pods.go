package job

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// completionIndexEnv is the variable through which an Indexed Job's pod learns its index.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// manageActive creates or deletes pods so that the Job runs as many as it should now.
func (c *Controller) manageActive(ctx context.Context, s *syncState, active []*corev1.Pod) error {
	job := s.job
	parallelism := int(ptr.Deref(job.Spec.Parallelism, 1))
	if isIndexed(job) {
		return c.manageIndexed(ctx, s, active, parallelism)
	}
	want := parallelism
	if job.Spec.Completions != nil {
		want = min(want, max(int(*job.Spec.Completions)-int(s.succeeded), 0))
	} else if s.succeeded > 0 {
		// Work-queue Jobs stop starting pods once one has succeeded.
		want = min(want, len(active))
	}
	busy := len(active)
	if onlyReplaceFailed(job) {
		busy += terminatingCount(s.pods)
	}
	switch {
	case len(active) > want:
		return c.deletePods(ctx, s, active, len(active)-want)
	case busy < want:
		if wait := c.backoff.remaining(s.key, c.opts.PodFailureBackoff, c.opts.MaxPodFailureBackoff, s.now.Time); wait > 0 {
			s.requeueIn(wait)
			return nil
		}
		n := min(want-busy, maxPodCreateDeletePerSync)
		indexes := make([]int, n)
		for i := range indexes {
			indexes[i] = -1
		}
		return c.createPods(ctx, s, indexes)
	}
	return nil
}

// manageIndexed keeps one pod per pending index, lowest indexes first, and removes pods that
// duplicate an index or carry none.
func (c *Controller) manageIndexed(ctx context.Context, s *syncState, active []*corev1.Pod, parallelism int) error {
	total := completions(s.job)
	byIndex := map[int][]*corev1.Pod{}
	var extra []*corev1.Pod
	for _, p := range active {
		ix, ok := completionIndex(p)
		if !ok || ix >= total || s.succeededIndexes.Has(ix) {
			extra = append(extra, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	for _, ix := range slices.Sorted(maps.Keys(byIndex)) {
		if ps := byIndex[ix]; len(ps) > 1 {
			rankForDeletion(ps)
			extra = append(extra, ps[:len(ps)-1]...)
			byIndex[ix] = ps[len(ps)-1:]
		}
	}
	if len(extra) > 0 {
		return c.deletePods(ctx, s, extra, len(extra))
	}
	running := len(byIndex)
	want := min(parallelism, total-s.succeededIndexes.Len())
	if running > want {
		var victims []*corev1.Pod
		for _, ps := range byIndex {
			victims = append(victims, ps...)
		}
		return c.deletePods(ctx, s, victims, running-want)
	}
	if running == want {
		return nil
	}
	if wait := c.backoff.remaining(s.key, c.opts.PodFailureBackoff, c.opts.MaxPodFailureBackoff, s.now.Time); wait > 0 {
		s.requeueIn(wait)
		return nil
	}
	var indexes []int
	for ix := 0; ix < total && len(indexes) < min(want-running, maxPodCreateDeletePerSync); ix++ {
		if _, busy := byIndex[ix]; !busy && !s.succeededIndexes.Has(ix) {
			indexes = append(indexes, ix)
		}
	}
	return c.createPods(ctx, s, indexes)
}

// terminatingCount counts pods being deleted that have not reached a final phase.
func terminatingCount(pods []*corev1.Pod) int {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp != nil && !controllerutil.IsPodTerminal(p) {
			n++
		}
	}
	return n
}

// createPods creates one pod per entry of indexes (-1 for a non-indexed pod) in slow-start
// batches, recording expectations first so that a sync racing the informer does not create
// them twice.
func (c *Controller) createPods(ctx context.Context, s *syncState, indexes []int) error {
	if len(indexes) == 0 {
		return nil
	}
	c.expectations.ExpectCreations(s.key, len(indexes))
	var mu sync.Mutex
	next := 0
	created, err := controllerutil.SlowStartBatch(ctx, len(indexes), controllerutil.SlowStartInitialBatchSize, func(ctx context.Context) error {
		mu.Lock()
		ix := indexes[next]
		next++
		mu.Unlock()
		pod := newPod(s.job, ix)
		result, err := c.client.CoreV1().Pods(s.job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			// This creation will never be observed.
			c.expectations.CreationObserved(s.key)
			if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		c.recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", result.Name)
		mu.Lock()
		s.pods = append(s.pods, result)
		mu.Unlock()
		return nil
	})
	if skipped := len(indexes) - created; err != nil && skipped > 0 {
		// Pods of batches never started will not be observed either.
		for range skipped - countErrors(err) {
			c.expectations.CreationObserved(s.key)
		}
	}
	if err != nil {
		return fmt.Errorf("creating pods for job %s: %w", s.key, err)
	}
	return nil
}

func countErrors(err error) int {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return len(joined.Unwrap())
	}
	return 1
}

// deletePods deletes n of pods, the least useful first, and marks them terminating in s.
func (c *Controller) deletePods(ctx context.Context, s *syncState, pods []*corev1.Pod, n int) error {
	if n <= 0 || len(pods) == 0 {
		return nil
	}
	victims := slices.Clone(pods)
	rankForDeletion(victims)
	victims = victims[:min(n, len(victims), maxPodCreateDeletePerSync)]
	uids := make([]string, 0, len(victims))
	for _, p := range victims {
		uids = append(uids, string(p.UID))
	}
	c.expectations.ExpectDeletions(s.key, uids)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, finalizerRemovalParallelism)
	for _, p := range victims {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				c.expectations.DeletionObserved(s.key, string(p.UID))
				c.recorder.Eventf(s.job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				mu.Lock()
				errs = append(errs, fmt.Errorf("deleting pod %s: %w", p.Name, err))
				mu.Unlock()
				return
			}
			if err == nil {
				c.recorder.Eventf(s.job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
			}
			mu.Lock()
			markTerminating(s, p)
			mu.Unlock()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// markTerminating replaces p in s.pods by a copy carrying a deletion timestamp.
func markTerminating(s *syncState, p *corev1.Pod) {
	for i, q := range s.pods {
		if q.UID == p.UID {
			cp := q.DeepCopy()
			cp.DeletionTimestamp = &s.now
			s.pods[i] = cp
			return
		}
	}
}

// rankForDeletion orders pods so that those doing the least useful work come first: unscheduled,
// then pending, then not ready, then ready; newer before older within each.
func rankForDeletion(pods []*corev1.Pod) {
	rank := func(p *corev1.Pod) int {
		switch {
		case p.Spec.NodeName == "":
			return 0
		case p.Status.Phase == corev1.PodPending:
			return 1
		case !controllerutil.IsPodReady(p):
			return 2
		default:
			return 3
		}
	}
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
}

// newPod builds a pod from the Job's template; index >= 0 makes it the pod of that completion
// index.
func newPod(job *batchv1.Job, index int) *corev1.Pod {
	tmpl := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    job.Name + "-",
			Namespace:       job.Namespace,
			Labels:          tmpl.Labels,
			Annotations:     tmpl.Annotations,
			Finalizers:      []string{batchv1.JobTrackingFinalizer},
			OwnerReferences: []metav1.OwnerReference{controllerutil.NewControllerRef(job, jobGVK)},
		},
		Spec: tmpl.Spec,
	}
	if index < 0 {
		return pod
	}
	ix := strconv.Itoa(index)
	pod.GenerateName = fmt.Sprintf("%s-%d-", job.Name, index)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, index)
	}
	env := corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)}}}
	addEnv := func(cs []corev1.Container) {
		for i := range cs {
			if !slices.ContainsFunc(cs[i].Env, func(e corev1.EnvVar) bool { return e.Name == completionIndexEnv }) {
				cs[i].Env = append(cs[i].Env, env)
			}
		}
	}
	addEnv(pod.Spec.InitContainers)
	addEnv(pod.Spec.Containers)
	return pod
}

// completionIndex returns the completion index a pod was created for.
func completionIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		v, ok = p.Labels[batchv1.JobCompletionIndexAnnotation]
	}
	if !ok {
		return 0, false
	}
	ix, err := strconv.Atoi(v)
	if err != nil || ix < 0 {
		return 0, false
	}
	return ix, true
}
