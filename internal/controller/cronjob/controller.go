// Package cronjob creates Jobs from CronJobs on their schedule, as upstream's cronjob-controller
// (v2) does: standard cron expressions and descriptors evaluated in spec.timeZone, the
// concurrency policies Allow/Forbid/Replace, spec.startingDeadlineSeconds, suspension, history
// limits for finished Jobs, and status.active/lastScheduleTime/lastSuccessfulTime. Jobs are named
// <cronjob>-<scheduled time in Unix minutes>, which makes creation idempotent. Instead of
// polling, each CronJob is requeued for its next schedule time.
package cronjob

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const (
	// nextScheduleDelta is added to requeue delays so that the sync lands just after the
	// scheduled minute, as upstream does.
	nextScheduleDelta = 100 * time.Millisecond
	// manyMissedThreshold is how many missed start times trigger a warning.
	manyMissedThreshold = 100
)

var cronJobGVK = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Options tunes the controller.
type Options struct {
	// Clock is the time source for schedules (default: real time). Tests step a fake clock.
	Clock clock.WithTicker
}

// Controller is the CronJob controller.
type Controller struct {
	client    kubernetes.Interface
	cjLister  batchlisters.CronJobLister
	jobLister batchlisters.JobLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	events    record.EventBroadcaster
	recorder  record.EventRecorder
	clock     clock.WithTicker
}

// New registers the cronjob and job informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts ...Options) *Controller {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	cjInf := factory.Batch().V1().CronJobs()
	jobInf := factory.Batch().V1().Jobs()
	events, recorder := controllerutil.NewEventRecorder("cronjob-controller")
	c := &Controller{
		client:    client,
		cjLister:  cjInf.Lister(),
		jobLister: jobInf.Lister(),
		synced:    []cache.InformerSynced{cjInf.Informer().HasSynced, jobInf.Informer().HasSynced},
		queue:     controllerutil.NewQueueWithClock("cronjob", o.Clock),
		events:    events,
		recorder:  recorder,
		clock:     o.Clock,
	}
	_, _ = cjInf.Informer().AddEventHandler(controllerutil.EnqueueHandler(c.queue))
	_, _ = jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onJob,
		UpdateFunc: func(_, obj any) { c.onJob(obj) },
		DeleteFunc: c.onJob,
	})
	return c
}

// Run processes CronJobs until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.events, c.client)
	controllerutil.RunWorkers(ctx, "cronjob", c.queue, workers, c.sync, c.synced...)
}

// onJob wakes the CronJob that owns a Job whenever the Job changes (it may have finished).
func (c *Controller) onJob(obj any) {
	job, ok := controllerutil.Tombstone[*batchv1.Job](obj)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOf(job); ref != nil && ref.Kind == cronJobGVK.Kind && ref.APIVersion == cronJobGVK.GroupVersion().String() {
		c.queue.Add(job.Namespace + "/" + ref.Name)
	}
}

// sync reconciles one CronJob and requeues it for its next schedule time.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.cjLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting cronjob %s: %w", key, err)
	}
	jobs, err := c.jobsOf(cached)
	if err != nil {
		return err
	}
	cj := cached.DeepCopy()
	if err := c.reconcileActive(ctx, cj, jobs); err != nil {
		return err
	}
	requeueAfter, syncErr := c.startDue(ctx, cj)
	c.cleanupFinished(ctx, cj, jobs)
	if !apiequality.Semantic.DeepEqual(cj.Status, cached.Status) {
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating status of cronjob %s: %w", key, err)
		}
	}
	if requeueAfter > 0 {
		c.queue.AddAfter(key, requeueAfter)
	}
	return syncErr
}

// jobsOf returns the Jobs the CronJob controls.
func (c *Controller) jobsOf(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobLister.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	var out []*batchv1.Job
	for _, j := range all {
		if metav1.IsControlledBy(j, cj) {
			out = append(out, j)
		}
	}
	return out, nil
}

// reconcileActive brings status.active and status.lastSuccessfulTime in line with the Jobs that
// exist: finished Jobs leave the active list, vanished ones too.
func (c *Controller) reconcileActive(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		found := inActiveList(cj, j.UID)
		finished, condType := jobFinished(j)
		switch {
		case !found && !finished:
			// Either our CronJob cache is older than our last status write, or the Job was
			// created just before a crash, before its status write. A live read tells which.
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("getting cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
			}
			if inActiveList(fresh, j.UID) {
				return fmt.Errorf("cronjob %s/%s: cache older than its status", cj.Namespace, cj.Name)
			}
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
			cj.Status.Active = append(cj.Status.Active, jobRef(j))
		case found && finished:
			removeFromActive(cj, j.UID)
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, condType)
		}
		if finished && condType == batchv1.JobComplete && j.Status.CompletionTime != nil {
			if cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time) {
				cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
			}
		}
	}
	for _, ref := range slices.Clone(cj.Status.Active) {
		if children[ref.UID] {
			continue
		}
		// Not in our cache: confirm with a live read before dropping it.
		_, err := c.client.BatchV1().Jobs(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", ref.Name)
			removeFromActive(cj, ref.UID)
		case err != nil:
			return fmt.Errorf("getting job %s/%s: %w", ref.Namespace, ref.Name, err)
		}
	}
	return nil
}

// startDue starts the Job of the most recent unmet schedule time, if policy allows, and returns
// how long until the next schedule time.
func (c *Controller) startDue(ctx context.Context, cj *batchv1.CronJob) (time.Duration, error) {
	logger := klog.FromContext(ctx)
	if cj.DeletionTimestamp != nil {
		return 0, nil
	}
	loc := time.Local
	if tz := ptr.Deref(cj.Spec.TimeZone, ""); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", tz, err)
			return 0, nil
		}
		loc = l
	}
	sched, err := ParseSchedule(cj.Spec.Schedule, loc)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return 0, nil
	}
	if ptr.Deref(cj.Spec.Suspend, false) {
		return 0, nil
	}
	now := c.clock.Now()
	next := nextDelay(sched, now)
	scheduled, missed, err := mostRecentScheduleTime(cj, now, sched)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return 0, nil
	}
	if missed > manyMissedThreshold {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if scheduled == nil {
		return next, nil
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return next, nil
	}
	name := jobName(cj, *scheduled)
	if inActiveListByName(cj, name) || (cj.Status.LastScheduleTime != nil && cj.Status.LastScheduleTime.Time.Equal(*scheduled)) {
		return next, nil
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(cj.Status.Active) > 0 {
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return next, nil
		}
	case batchv1.ReplaceConcurrent:
		for _, ref := range slices.Clone(cj.Status.Active) {
			logger.V(4).Info("deleting job still running at the next scheduled start", "job", klog.KRef(ref.Namespace, ref.Name))
			if err := c.deleteJob(ctx, cj, ref.Namespace, ref.Name, ref.UID); err != nil {
				return next, err
			}
		}
	}
	job, err := newJob(cj, *scheduled)
	if err != nil {
		return next, err
	}
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return 0, nil
	case apierrors.IsAlreadyExists(err):
		existing, getErr := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if getErr != nil {
			return next, fmt.Errorf("getting existing job %s: %w", job.Name, getErr)
		}
		if !metav1.IsControlledBy(existing, cj) || inActiveList(cj, existing.UID) {
			return next, nil
		}
		created = existing
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return next, fmt.Errorf("creating job for cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
	}
	cj.Status.Active = append(cj.Status.Active, jobRef(created))
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduled}
	return next, nil
}

// nextDelay is how long from now until just after the next schedule time.
func nextDelay(sched *Schedule, now time.Time) time.Duration {
	next := sched.Next(now)
	if next.IsZero() {
		return 0
	}
	return next.Add(nextScheduleDelta).Sub(now)
}

// mostRecentScheduleTime returns the latest schedule time in (earliest, now], where earliest is
// the last schedule time (or the CronJob's creation) moved up to now-startingDeadlineSeconds,
// and roughly how many schedule times were missed.
func mostRecentScheduleTime(cj *batchv1.CronJob, now time.Time, sched *Schedule) (*time.Time, int64, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if deadline := now.Add(-time.Duration(*d) * time.Second); deadline.After(earliest) {
			earliest = deadline
		}
	}
	t1 := sched.Next(earliest)
	if t1.IsZero() || now.Before(t1) {
		return nil, 0, nil
	}
	t2 := sched.Next(t1)
	if t2.IsZero() || now.Before(t2) {
		return &t1, 1, nil
	}
	interval := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if interval < 1 {
		return nil, 0, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	missed := int64(now.Sub(t1).Seconds())/interval + 1
	// Jump close to now instead of walking every missed time (a stuck controller could be
	// decades behind); schedules are not always evenly spaced, so start two intervals early and
	// fall back to walking from t1 if that overshot.
	start := t1.Add(time.Duration((missed-2)*interval) * time.Second)
	if start.Before(t1) {
		start = t1
	}
	var recent time.Time
	if first := sched.Next(start); first.IsZero() || first.After(now) {
		start = t1
		recent = t1
	}
	for t := sched.Next(start); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		recent = t
	}
	if recent.IsZero() {
		return nil, missed, nil
	}
	return &recent, missed, nil
}

// jobName is <cronjob>-<scheduled time in minutes since the epoch>.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// newJob builds the Job the CronJob runs for a scheduled time.
func newJob(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	loc, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		return nil, fmt.Errorf("loading time zone of cronjob %s/%s: %w", cj.Namespace, cj.Name, err)
	}
	annotations := maps.Clone(cj.Spec.JobTemplate.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          maps.Clone(cj.Spec.JobTemplate.Labels),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{controllerutil.NewControllerRef(cj, cronJobGVK)},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&job.Spec)
	return job, nil
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: "batch/v1", Kind: "Job", Namespace: j.Namespace, Name: j.Name,
		UID: j.UID, ResourceVersion: j.ResourceVersion}
}

func inActiveList(cj *batchv1.CronJob, uid types.UID) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

func inActiveListByName(cj *batchv1.CronJob, name string) bool {
	return slices.ContainsFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.Name == name && r.Namespace == cj.Namespace })
}

func removeFromActive(cj *batchv1.CronJob, uid types.UID) {
	cj.Status.Active = slices.DeleteFunc(cj.Status.Active, func(r corev1.ObjectReference) bool { return r.UID == uid })
}

// jobFinished reports whether the Job has its Complete or Failed condition, and which.
func jobFinished(j *batchv1.Job) (bool, batchv1.JobConditionType) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true, c.Type
		}
	}
	return false, ""
}

// deleteJob deletes a Job with background propagation and drops it from the active list.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, ns, name string, uid types.UID) error {
	policy := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &policy}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := c.client.BatchV1().Jobs(ns).Delete(ctx, name, opts)
	if err != nil && !apierrors.IsNotFound(err) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return fmt.Errorf("deleting job %s/%s: %w", ns, name, err)
	}
	if uid != "" {
		removeFromActive(cj, uid)
	}
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", name)
	return nil
}

// cleanupFinished deletes the oldest finished Jobs beyond the history limits.
func (c *Controller) cleanupFinished(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) {
	if cj.Spec.SuccessfulJobsHistoryLimit == nil && cj.Spec.FailedJobsHistoryLimit == nil {
		return
	}
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch finished, t := jobFinished(j); {
		case finished && t == batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case finished && t == batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	if limit := cj.Spec.SuccessfulJobsHistoryLimit; limit != nil {
		c.removeOldest(ctx, cj, succeeded, int(*limit))
	}
	if limit := cj.Spec.FailedJobsHistoryLimit; limit != nil {
		c.removeOldest(ctx, cj, failed, int(*limit))
	}
}

func (c *Controller) removeOldest(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, keep int) {
	excess := len(jobs) - keep
	if excess <= 0 {
		return
	}
	// Oldest start first; Jobs that never started count as newest, as upstream sorts them.
	slices.SortStableFunc(jobs, func(a, b *batchv1.Job) int {
		switch {
		case a.Status.StartTime == nil && b.Status.StartTime == nil:
			return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
		case a.Status.StartTime == nil:
			return 1
		case b.Status.StartTime == nil:
			return -1
		}
		if d := a.Status.StartTime.Compare(b.Status.StartTime.Time); d != 0 {
			return d
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	for _, j := range jobs[:excess] {
		if err := c.deleteJob(ctx, cj, j.Namespace, j.Name, j.UID); err != nil {
			klog.FromContext(ctx).V(2).Info("history cleanup failed", "job", klog.KObj(j), "err", err)
		}
	}
}
