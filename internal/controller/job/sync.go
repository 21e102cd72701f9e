package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const (
	msgBackoffLimit   = "Job has reached the specified backoff limit"
	msgDeadline       = "Job was active longer than specified deadline"
	msgCompletions    = "Reached expected number of succeeded pods"
	reasonSuspended   = "JobSuspended"
	reasonResumed     = "JobResumed"
	msgSuspended      = "Job suspended"
	msgResumed        = "Job resumed"
	indexedCompletion = batchv1.IndexedCompletion
)

// syncState is what one sync knows about a Job and its pods.
type syncState struct {
	key  string
	job  *batchv1.Job // a copy whose status this sync edits
	pods []*corev1.Pod
	now  metav1.Time

	// uncounted mirrors job.Status.UncountedTerminatedPods as sets.
	uncountedSucceeded sets.Set[string]
	uncountedFailed    sets.Set[string]
	// pendingRemoval are pods whose finalizer removal is in flight (see finalizerExpectations).
	pendingRemoval sets.Set[string]
	// succeededIndexes holds the completed indexes of an Indexed Job, including new ones.
	succeededIndexes sets.Set[int]

	succeeded, failed int32 // including pods not yet moved into the counters
	// finished is the terminal condition the Job is heading for (Complete or Failed), once known.
	finished *batchv1.JobCondition
	// requeueAfter is the earliest moment the Job needs another look (deadline, back-off, TTL).
	requeueAfter time.Duration
}

func (s *syncState) requeueIn(d time.Duration) {
	if d > 0 && (s.requeueAfter == 0 || d < s.requeueAfter) {
		s.requeueAfter = d
	}
}

// syncJob reconciles one Job. See the package comment for the overall algorithm.
func (c *Controller) syncJob(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		c.finalizers.forget(key)
		c.backoff.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s: %w", key, err)
	}
	if cached.Spec.ManagedBy != nil && *cached.Spec.ManagedBy != controllerName {
		return nil // another controller runs this Job
	}
	if isFinished(cached) {
		// Backstop: pods of a finished Job must not keep our finalizer.
		c.enqueueFinalizerCleanup(cached)
		return c.handleTTL(ctx, key, cached)
	}

	// Expectations are read before the pods, so that a pod created after the read cannot be
	// missed by both.
	satisfied := c.expectations.Satisfied(key)
	pods, err := c.podsOf(ctx, cached)
	if err != nil {
		return err
	}
	s := &syncState{
		key:                key,
		job:                cached.DeepCopy(),
		pods:               pods,
		now:                metav1.NewTime(c.clock.Now()),
		uncountedSucceeded: sets.New[string](),
		uncountedFailed:    sets.New[string](),
		pendingRemoval:     c.finalizers.pending(key),
	}
	if u := s.job.Status.UncountedTerminatedPods; u != nil {
		for _, uid := range u.Succeeded {
			s.uncountedSucceeded.Insert(string(uid))
		}
		for _, uid := range u.Failed {
			s.uncountedFailed.Insert(string(uid))
		}
	}
	if isIndexed(s.job) {
		s.succeededIndexes = parseIndexes(s.job.Status.CompletedIndexes, completions(s.job))
	}
	newSucceeded, newFailed := c.newlyFinished(s)
	c.backoff.observe(key, newSucceeded, newFailed, s.now.Time)
	s.succeeded = s.job.Status.Succeeded + int32(s.uncountedSucceeded.Len()+len(newSucceeded))
	s.failed = s.job.Status.Failed + int32(s.uncountedFailed.Len()+len(newFailed))
	if isIndexed(s.job) {
		for _, p := range newSucceeded {
			if ix, ok := completionIndex(p); ok {
				s.succeededIndexes.Insert(ix)
			}
		}
		s.succeeded = int32(s.succeededIndexes.Len())
	}

	suspended := ptr.Deref(s.job.Spec.Suspend, false)
	if s.job.Status.StartTime == nil && !suspended {
		s.job.Status.StartTime = &s.now
	}
	c.decideFinish(s)

	active := activePods(s.pods)
	var manageErr error
	switch {
	case s.job.DeletionTimestamp != nil:
		// The garbage collector removes the pods of a deleted Job; only their finalizers are
		// ours to remove.
	case s.finished != nil:
		manageErr = c.deletePods(ctx, s, active, len(active))
	case suspended:
		manageErr = c.deletePods(ctx, s, active, len(active))
		if setCondition(s.job, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, msgSuspended, s.now) {
			c.recorder.Event(s.job, corev1.EventTypeNormal, "Suspended", msgSuspended)
		}
	default:
		if hasCondition(s.job, batchv1.JobSuspended, corev1.ConditionTrue) {
			setCondition(s.job, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, msgResumed, s.now)
			c.recorder.Event(s.job, corev1.EventTypeNormal, "Resumed", msgResumed)
			// activeDeadlineSeconds counts continuous activity: it restarts on resume.
			s.job.Status.StartTime = &s.now
		}
		if satisfied {
			manageErr = c.manageActive(ctx, s, active)
		}
	}

	// Status counters of the pods as they are now (pods deleted above show up as terminating
	// with the next event).
	active = activePods(s.pods)
	s.job.Status.Active = int32(len(active))
	var ready, terminating int32
	for _, p := range active {
		if controllerutil.IsPodReady(p) {
			ready++
		}
	}
	for _, p := range s.pods {
		if p.DeletionTimestamp != nil && !controllerutil.IsPodTerminal(p) {
			terminating++
		}
	}
	s.job.Status.Ready = ptr.To(ready)
	s.job.Status.Terminating = ptr.To(terminating)

	trackErr := c.trackFinishedPods(ctx, s, cached)
	if s.requeueAfter > 0 {
		c.queue.AddAfter(key, s.requeueAfter)
	}
	if manageErr != nil {
		return manageErr
	}
	return trackErr
}

// podsOf returns the pods the Job owns, adopting matching orphans and releasing owned pods that
// no longer match, like upstream's ControllerRefManager.
func (c *Controller) podsOf(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := selectorOf(job)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s has an invalid selector: %w", job.Namespace, job.Name, err)
	}
	all, err := c.podLister.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	// Only pods we own or that could be adopted are worth claiming.
	var candidates []*corev1.Pod
	for _, p := range all {
		ref := controllerRefOf(p)
		if (ref != nil && ref.UID == job.UID) || (ref == nil && sel.Matches(labels.Set(p.Labels))) {
			candidates = append(candidates, p)
		}
	}
	m := &controllerutil.RefManager{
		Owner:    job,
		OwnerGVK: jobGVK,
		Selector: sel,
		CanAdopt: controllerutil.RecheckOwner(job, func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		}),
		Patch: controllerutil.PodPatcher(c.client),
	}
	return controllerutil.Claim(ctx, m, candidates)
}

// decideFinish works out whether the Job has met its success or failure criteria, records the
// interim SuccessCriteriaMet/FailureTarget condition, and schedules the deadline check.
func (c *Controller) decideFinish(s *syncState) {
	job := s.job
	switch {
	case hasCondition(job, batchv1.JobFailureTarget, corev1.ConditionTrue):
		cond := findCondition(job, batchv1.JobFailureTarget)
		s.finished = &batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: cond.Reason, Message: cond.Message}
		return
	case hasCondition(job, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue):
		cond := findCondition(job, batchv1.JobSuccessCriteriaMet)
		s.finished = &batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: cond.Reason, Message: cond.Message}
		return
	}
	fail := func(reason, msg string) {
		setCondition(job, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, msg, s.now)
		s.finished = &batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: reason, Message: msg}
	}
	backoffLimit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if s.failed > backoffLimit || pastBackoffLimitOnFailure(job, s.pods) {
		fail(batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit)
		return
	}
	if job.Spec.ActiveDeadlineSeconds != nil && job.Status.StartTime != nil && !ptr.Deref(job.Spec.Suspend, false) {
		deadline := job.Status.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second)
		if !s.now.Time.Before(deadline) {
			fail(batchv1.JobReasonDeadlineExceeded, msgDeadline)
			return
		}
		s.requeueIn(deadline.Sub(s.now.Time))
	}
	if c.successCriteriaMet(s) {
		setCondition(job, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonCompletionsReached, msgCompletions, s.now)
		s.finished = &batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue,
			Reason: batchv1.JobReasonCompletionsReached, Message: msgCompletions}
	}
}

// successCriteriaMet: enough completions, or (without completions, the work-queue pattern) at
// least one success and nothing left running.
func (c *Controller) successCriteriaMet(s *syncState) bool {
	if s.job.Spec.Completions == nil {
		return s.succeeded > 0 && len(activePods(s.pods)) == 0
	}
	return s.succeeded >= *s.job.Spec.Completions
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure, failures are container restarts
// inside running pods, and they count against the back-off limit.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, st := range p.Status.InitContainerStatuses {
			restarts += st.RestartCount
		}
		for _, st := range p.Status.ContainerStatuses {
			restarts += st.RestartCount
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

// updateStatus writes job's status if it differs from orig, returning the stored Job.
func (c *Controller) updateStatus(ctx context.Context, job, orig *batchv1.Job) (*batchv1.Job, error) {
	if apiequality.Semantic.DeepEqual(job.Status, orig.Status) {
		return job, nil
	}
	updated, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating status of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	return updated, nil
}

func isFinished(job *batchv1.Job) bool {
	return hasCondition(job, batchv1.JobComplete, corev1.ConditionTrue) || hasCondition(job, batchv1.JobFailed, corev1.ConditionTrue)
}

func findCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

func hasCondition(job *batchv1.Job, t batchv1.JobConditionType, status corev1.ConditionStatus) bool {
	c := findCondition(job, t)
	return c != nil && c.Status == status
}

// setCondition sets a condition, keeping its transition time when only the reason or message
// changes; it reports whether anything changed.
func setCondition(job *batchv1.Job, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now metav1.Time) bool {
	if c := findCondition(job, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = now
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, now
		return true
	}
	job.Status.Conditions = append(job.Status.Conditions, batchv1.JobCondition{
		Type: t, Status: status, Reason: reason, Message: msg, LastProbeTime: now, LastTransitionTime: now,
	})
	return true
}

func selectorOf(job *batchv1.Job) (labels.Selector, error) {
	if job.Spec.Selector == nil {
		return labels.Nothing(), nil
	}
	return metav1.LabelSelectorAsSelector(job.Spec.Selector)
}

func controllerRefOf(pod *corev1.Pod) *metav1.OwnerReference {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != jobGVK.Kind || ref.APIVersion != jobGVK.GroupVersion().String() {
		return nil
	}
	return ref
}

func completions(job *batchv1.Job) int {
	return int(ptr.Deref(job.Spec.Completions, 0))
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == indexedCompletion
}

// activePods are the pods still counting towards parallelism: not finished and not deleting.
func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if controllerutil.IsPodActive(p) {
			out = append(out, p)
		}
	}
	return out
}
