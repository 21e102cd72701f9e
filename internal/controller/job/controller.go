// Package job runs batch/v1 Jobs to completion the way upstream's job-controller does: it keeps
// up to spec.parallelism pods running until spec.completions pods (or, for Indexed jobs, one pod
// per index) have succeeded; it retries failed pods with an exponential back-off until
// spec.backoffLimit failures, enforces spec.activeDeadlineSeconds, honours spec.suspend, and
// deletes finished Jobs after spec.ttlSecondsAfterFinished.
//
// Pod outcomes are counted with the batch.kubernetes.io/job-tracking finalizer, as upstream does
// since 1.26: every pod is created with it; when a pod finishes, its UID is first recorded in
// status.uncountedTerminatedPods, then the finalizer is removed, then the UID is moved into the
// succeeded/failed counters. No pod is ever counted twice or lost, even across controller
// restarts or pods deleted right after finishing. Terminal conditions follow upstream ≥1.31: a
// SuccessCriteriaMet or FailureTarget condition first, then Complete or Failed once every pod has
// terminated.
package job

import (
	"context"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const (
	// DefaultPodFailureBackoff is the delay before recreating a pod after the first failure; it
	// doubles with each further consecutive failure.
	DefaultPodFailureBackoff = 10 * time.Second
	// DefaultMaxPodFailureBackoff caps the back-off (the six minutes upstream documents).
	DefaultMaxPodFailureBackoff = 6 * time.Minute
	// controllerName is the spec.managedBy value of Jobs this controller handles.
	controllerName = "kubernetes.io/job-controller"
	// maxPodCreateDeletePerSync bounds the pods created or deleted in one sync, as upstream.
	maxPodCreateDeletePerSync = 500
	// finalizerRemovalParallelism bounds concurrent finalizer patches.
	finalizerRemovalParallelism = 16
)

// jobGVK is the kind of the owner references this controller writes.
var jobGVK = batchv1.SchemeGroupVersion.WithKind("Job")

// Options tunes the controller; zero fields take the defaults.
type Options struct {
	// Clock is the time source for start/completion times, deadlines, back-off and TTLs.
	Clock clock.WithTicker
	// PodFailureBackoff and MaxPodFailureBackoff shape the delay before a failed pod is replaced.
	PodFailureBackoff    time.Duration
	MaxPodFailureBackoff time.Duration
}

// Controller is the Job controller.
type Controller struct {
	client      kubernetes.Interface
	jobLister   batchlisters.JobLister
	podLister   corelisters.PodLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string] // job keys
	orphanQueue workqueue.TypedRateLimitingInterface[string] // pod keys needing their finalizer removed
	events      record.EventBroadcaster
	recorder    record.EventRecorder
	clock       clock.WithTicker
	opts        Options

	expectations *controllerutil.Expectations
	finalizers   *finalizerExpectations
	backoff      *backoffStore
}

// New registers the job and pod informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts ...Options) *Controller {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.PodFailureBackoff <= 0 {
		o.PodFailureBackoff = DefaultPodFailureBackoff
	}
	if o.MaxPodFailureBackoff <= 0 {
		o.MaxPodFailureBackoff = DefaultMaxPodFailureBackoff
	}
	jobInf := factory.Batch().V1().Jobs()
	podInf := factory.Core().V1().Pods()
	events, recorder := controllerutil.NewEventRecorder("job-controller")
	c := &Controller{
		client:       client,
		jobLister:    jobInf.Lister(),
		podLister:    podInf.Lister(),
		synced:       []cache.InformerSynced{jobInf.Informer().HasSynced, podInf.Informer().HasSynced},
		queue:        controllerutil.NewQueueWithClock("job", o.Clock),
		orphanQueue:  controllerutil.NewQueueWithClock("job_orphan_pod", o.Clock),
		events:       events,
		recorder:     recorder,
		clock:        o.Clock,
		opts:         o,
		expectations: controllerutil.NewExpectations(),
		finalizers:   &finalizerExpectations{uids: map[string]sets.Set[string]{}},
		backoff:      &backoffStore{records: map[string]backoffRecord{}},
	}
	_, _ = jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { controllerutil.Enqueue(c.queue, obj) },
		UpdateFunc: func(_, obj any) { controllerutil.Enqueue(c.queue, obj) },
		DeleteFunc: c.onJobDelete,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onPodAdd,
		UpdateFunc: c.onPodUpdate,
		DeleteFunc: c.onPodDelete,
	})
	return c
}

// Run syncs jobs and cleans up orphan pods until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.events, c.client)
	var wg sync.WaitGroup
	wg.Go(func() { controllerutil.RunWorkers(ctx, "job", c.queue, workers, c.syncJob, c.synced...) })
	wg.Go(func() {
		controllerutil.RunWorkers(ctx, "job_orphan_pod", c.orphanQueue, 1, c.syncOrphanPod, c.synced...)
	})
	wg.Wait()
}

func (c *Controller) onJobDelete(obj any) {
	job, ok := controllerutil.Tombstone[*batchv1.Job](obj)
	if !ok {
		return
	}
	controllerutil.Enqueue(c.queue, job)
	// Its pods may still carry our finalizer; nobody else will remove it.
	c.enqueueFinalizerCleanup(job)
}

// jobOfPod returns the key of the Job controlling pod, if that Job is in the cache.
func (c *Controller) jobOfPod(pod *corev1.Pod) (*batchv1.Job, string) {
	ref := controllerRefOf(pod)
	if ref == nil {
		return nil, ""
	}
	job, err := c.jobLister.Jobs(pod.Namespace).Get(ref.Name)
	if err != nil || job.UID != ref.UID {
		return nil, ""
	}
	return job, pod.Namespace + "/" + job.Name
}

func (c *Controller) onPodAdd(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if job, key := c.jobOfPod(pod); job != nil {
		c.expectations.CreationObserved(key)
		if pod.DeletionTimestamp != nil {
			c.expectations.DeletionObserved(key, string(pod.UID))
		}
		c.queue.Add(key)
		return
	}
	c.handleUnownedPod(pod)
}

// handleUnownedPod queues finalizer cleanup for pods whose Job is gone, and offers orphans
// matching a Job's selector for adoption.
func (c *Controller) handleUnownedPod(pod *corev1.Pod) {
	if hasTrackingFinalizer(pod) {
		c.orphanQueue.Add(pod.Namespace + "/" + pod.Name)
	}
	if metav1.GetControllerOf(pod) != nil || pod.DeletionTimestamp != nil {
		return // owned by something else, or going away: not for adoption
	}
	jobs, err := c.jobLister.Jobs(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, j := range jobs {
		if sel, err := selectorOf(j); err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			c.queue.Add(pod.Namespace + "/" + j.Name)
		}
	}
}

func (c *Controller) onPodUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || oldPod.ResourceVersion == pod.ResourceVersion {
		return
	}
	if hasTrackingFinalizer(oldPod) && !hasTrackingFinalizer(pod) {
		c.finalizers.observed(string(pod.UID))
	}
	if oldRef, newRef := controllerRefOf(oldPod), controllerRefOf(pod); oldRef != nil && (newRef == nil || oldRef.UID != newRef.UID) {
		if job, key := c.jobOfPod(oldPod); job != nil {
			c.queue.Add(key)
		}
	}
	if job, key := c.jobOfPod(pod); job != nil {
		if pod.DeletionTimestamp != nil {
			c.expectations.DeletionObserved(key, string(pod.UID))
		}
		c.queue.Add(key)
		return
	}
	c.handleUnownedPod(pod)
}

func (c *Controller) onPodDelete(obj any) {
	pod, ok := controllerutil.Tombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	c.finalizers.observed(string(pod.UID))
	if job, key := c.jobOfPod(pod); job != nil {
		c.expectations.DeletionObserved(key, string(pod.UID))
		c.queue.Add(key)
	}
}

// finalizerExpectations remembers the pods whose finalizer this controller removed but whose
// update the informer has not delivered yet; a sync must not count them again meanwhile.
type finalizerExpectations struct {
	mu   sync.Mutex
	uids map[string]sets.Set[string] // job key -> pod UIDs
}

func (f *finalizerExpectations) expect(key string, uids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.uids[key]
	if s == nil {
		s = sets.New[string]()
		f.uids[key] = s
	}
	s.Insert(uids...)
}

// cancel drops an expectation whose removal failed.
func (f *finalizerExpectations) cancel(key, uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.uids[key]; s != nil {
		s.Delete(uid)
	}
}

func (f *finalizerExpectations) observed(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, s := range f.uids {
		if s.Has(uid) {
			s.Delete(uid)
			if s.Len() == 0 {
				delete(f.uids, key)
			}
			return
		}
	}
}

func (f *finalizerExpectations) pending(key string) sets.Set[string] {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uids[key].Clone()
}

func (f *finalizerExpectations) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uids, key)
}
