package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
)

// How long a pod may sit among the unschedulable ones before it is retried
// even though no event suggested it might fit now (upstream's value).
const maxInUnschedulablePods = 5 * time.Minute

// queuedPod is a pod waiting to be scheduled.
type queuedPod struct {
	info *podInfo
	// timestamp orders pods of equal priority (FIFO) and starts back-off.
	timestamp time.Time
	attempts  int
	// rejectedBy lists the plugins that rejected the pod in its last
	// attempt; only events that might satisfy them requeue it.
	rejectedBy pluginID
	// backoffExpiry is when the pod may be tried again.
	backoffExpiry time.Time
	heapIndex     int
}

// clusterEvent describes a change that may make unschedulable pods fit.
type clusterEvent struct {
	// plugins whose verdicts the event may change.
	plugins pluginID
	// pod is the assigned pod that was added, for a cheap relevance check
	// against pods rejected by affinity or spreading.
	pod *v1.Pod
}

// schedulingQueue is upstream's priority queue in miniature: an active heap
// (priority, then arrival), a back-off heap for pods that failed recently,
// and a pool of unschedulable pods that wait for a cluster event.
type schedulingQueue struct {
	clock          clock.Clock
	initialBackoff time.Duration
	maxBackoff     time.Duration

	mu            sync.Mutex
	cond          *sync.Cond
	closed        bool
	active        podHeap
	backoff       podHeap
	unschedulable map[string]*queuedPod
	// inFlight holds pods popped and not yet Done, with their latest version.
	inFlight map[string]*v1.Pod
	// schedulingCycle counts pops; moveRequestCycle is the cycle during
	// which the last move event happened. A pod that fails in a cycle that
	// saw a move goes to back-off instead of waiting for another event.
	schedulingCycle  int64
	moveRequestCycle int64
}

func newSchedulingQueue(clk clock.Clock, initialBackoff, maxBackoff time.Duration) *schedulingQueue {
	q := &schedulingQueue{
		clock:          clk,
		initialBackoff: initialBackoff,
		maxBackoff:     maxBackoff,
		unschedulable:  make(map[string]*queuedPod),
		inFlight:       make(map[string]*v1.Pod),
	}
	q.active.less = func(a, b *queuedPod) bool {
		if a.info.priority != b.info.priority {
			return a.info.priority > b.info.priority
		}
		return a.timestamp.Before(b.timestamp)
	}
	q.backoff.less = func(a, b *queuedPod) bool { return a.backoffExpiry.Before(b.backoffExpiry) }
	q.active.index = make(map[string]*queuedPod)
	q.backoff.index = make(map[string]*queuedPod)
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add enqueues a new pending pod.
func (q *schedulingQueue) add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	if q.presentLocked(key) {
		q.updateLocked(key, pod)
		return
	}
	if latest, ok := q.inFlight[key]; ok && latest != nil && latest.UID == pod.UID {
		q.inFlight[key] = pod
		return
	}
	heap.Push(&q.active, &queuedPod{info: newPodInfo(pod), timestamp: q.clock.Now()})
	q.cond.Broadcast()
}

// update replaces a pending pod's object. A change to anything but status
// may make an unschedulable pod fit, so such a pod is retried.
func (q *schedulingQueue) update(old, pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	if latest, ok := q.inFlight[key]; ok && latest != nil && latest.UID == pod.UID {
		q.inFlight[key] = pod
		return
	}
	if !q.presentLocked(key) {
		heap.Push(&q.active, &queuedPod{info: newPodInfo(pod), timestamp: q.clock.Now()})
		q.cond.Broadcast()
		return
	}
	if qp, ok := q.unschedulable[key]; ok && specChanged(old, pod) {
		qp.info = newPodInfo(pod)
		delete(q.unschedulable, key)
		q.requeueLocked(qp)
		return
	}
	q.updateLocked(key, pod)
}

func (q *schedulingQueue) presentLocked(key string) bool {
	if _, ok := q.active.index[key]; ok {
		return true
	}
	if _, ok := q.backoff.index[key]; ok {
		return true
	}
	_, ok := q.unschedulable[key]
	return ok
}

// updateLocked swaps in a new version of a queued pod, keeping its place.
func (q *schedulingQueue) updateLocked(key string, pod *v1.Pod) {
	var qp *queuedPod
	if p, ok := q.active.index[key]; ok {
		qp = p
	} else if p, ok := q.backoff.index[key]; ok {
		qp = p
	} else if p, ok := q.unschedulable[key]; ok {
		qp = p
	}
	if qp == nil {
		return
	}
	if qp.info.pod.ResourceVersion == pod.ResourceVersion && qp.info.pod.UID == pod.UID {
		return
	}
	if specChanged(qp.info.pod, pod) {
		qp.info = newPodInfo(pod)
		if _, ok := q.active.index[key]; ok {
			heap.Fix(&q.active, qp.heapIndex) // priority may have changed
		}
	} else {
		// Status-only change: keep the parsed info, point at the new object.
		info := *qp.info
		info.pod = pod
		qp.info = &info
	}
}

// specChanged reports whether a pod changed in a way that can matter for
// scheduling: anything but status and bookkeeping metadata.
func specChanged(old, pod *v1.Pod) bool {
	if old == nil || old.UID != pod.UID {
		return true
	}
	return !labels.Equals(old.Labels, pod.Labels) || !equality.Semantic.DeepEqual(old.Spec, pod.Spec)
}

// remove drops a pod that was deleted or got bound.
func (q *schedulingQueue) remove(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	if qp, ok := q.active.index[key]; ok {
		heap.Remove(&q.active, qp.heapIndex)
	}
	if qp, ok := q.backoff.index[key]; ok {
		heap.Remove(&q.backoff, qp.heapIndex)
	}
	delete(q.unschedulable, key)
	if _, ok := q.inFlight[key]; ok {
		// Remember the deletion so a failed attempt does not requeue it.
		q.inFlight[key] = nil
	}
}

// pop blocks until a pod is active (or ctx ends / the queue closes).
func (q *schedulingQueue) pop(ctx context.Context) (*queuedPod, int64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 {
		if q.closed || ctx.Err() != nil {
			return nil, 0, false
		}
		q.cond.Wait()
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	qp.attempts++
	q.schedulingCycle++
	q.inFlight[qp.info.key] = qp.info.pod
	return qp, q.schedulingCycle, true
}

// done marks the end of a pod's scheduling attempt.
func (q *schedulingQueue) done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, key)
}

// requeueFailed puts back a pod whose attempt failed. Unschedulable pods
// wait for an event unless one already happened during the attempt; errors
// (API failures) always go to back-off.
func (q *schedulingQueue) requeueFailed(qp *queuedPod, cycle int64, rejectedBy pluginID, isError bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := qp.info.key
	latest, inFlight := q.inFlight[key]
	delete(q.inFlight, key)
	if inFlight && latest == nil {
		return // deleted while being scheduled
	}
	if q.presentLocked(key) {
		return
	}
	if latest != nil && latest != qp.info.pod {
		if specChanged(qp.info.pod, latest) {
			qp.info = newPodInfo(latest)
		} else {
			info := *qp.info
			info.pod = latest
			qp.info = &info
		}
	}
	now := q.clock.Now()
	qp.timestamp = now
	qp.rejectedBy = rejectedBy
	qp.backoffExpiry = now.Add(q.backoffDuration(qp.attempts))
	if isError || q.moveRequestCycle >= cycle {
		heap.Push(&q.backoff, qp)
		return
	}
	q.unschedulable[key] = qp
}

// backoffDuration doubles from initialBackoff per attempt up to maxBackoff.
func (q *schedulingQueue) backoffDuration(attempts int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= q.maxBackoff {
			return q.maxBackoff
		}
	}
	return d
}

// requeueLocked moves a pod out of the unschedulable pool: to back-off if
// its back-off has not expired yet, else to active.
func (q *schedulingQueue) requeueLocked(qp *queuedPod) {
	if qp.backoffExpiry.After(q.clock.Now()) {
		heap.Push(&q.backoff, qp)
		return
	}
	heap.Push(&q.active, qp)
	q.cond.Broadcast()
}

// moveOnEvent retries the unschedulable pods the event may help.
func (q *schedulingQueue) moveOnEvent(ev clusterEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveRequestCycle = q.schedulingCycle
	for key, qp := range q.unschedulable {
		if !eventMayHelp(ev, qp) {
			continue
		}
		delete(q.unschedulable, key)
		q.requeueLocked(qp)
	}
}

// eventMayHelp is a coarse queueing hint: the event must concern a plugin
// that rejected the pod, and an added pod must at least be one the pod's
// affinity or spreading selects.
func eventMayHelp(ev clusterEvent, qp *queuedPod) bool {
	if qp.rejectedBy == 0 {
		return true
	}
	if ev.plugins&qp.rejectedBy == 0 {
		return false
	}
	if ev.pod == nil || ev.plugins&^(pluginInterPodAffinity|pluginPodTopologySpread) != 0 {
		return true
	}
	p := qp.info
	for i := range p.requiredAffinity {
		t := &p.requiredAffinity[i]
		if t.selector.matches(ev.pod.Labels) && (t.inNamespace(ev.pod.Namespace) || t.nsSelector != nil) {
			return true
		}
	}
	for i := range p.hardSpread {
		if ev.pod.Namespace == p.pod.Namespace && p.hardSpread[i].selector.matches(ev.pod.Labels) {
			return true
		}
	}
	return false
}

// flushBackoffCompleted moves pods whose back-off expired to active.
func (q *schedulingQueue) flushBackoffCompleted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	moved := false
	for q.backoff.Len() > 0 && !q.backoff.items[0].backoffExpiry.After(now) {
		qp := heap.Pop(&q.backoff).(*queuedPod)
		heap.Push(&q.active, qp)
		moved = true
	}
	if moved {
		q.cond.Broadcast()
	}
}

// flushUnschedulableLeftover retries pods that waited too long for an event.
func (q *schedulingQueue) flushUnschedulableLeftover() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for key, qp := range q.unschedulable {
		if now.Sub(qp.timestamp) > maxInUnschedulablePods {
			delete(q.unschedulable, key)
			q.requeueLocked(qp)
		}
	}
}

// run flushes the back-off heap every second and the unschedulable pool
// every 30 seconds, like upstream, until ctx ends.
func (q *schedulingQueue) run(ctx context.Context, clk clock.WithTicker) {
	backoffTick := clk.NewTicker(time.Second)
	defer backoffTick.Stop()
	leftoverTick := clk.NewTicker(30 * time.Second)
	defer leftoverTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-backoffTick.C():
			q.flushBackoffCompleted()
		case <-leftoverTick.C():
			q.flushUnschedulableLeftover()
		}
	}
}

// close wakes pop so the scheduling loop can end.
func (q *schedulingQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

// lengths returns the sizes of the active, back-off and unschedulable sets.
func (q *schedulingQueue) lengths() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}

// podHeap is a heap of queued pods with an index by key.
type podHeap struct {
	items []*queuedPod
	index map[string]*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIndex = i
	h.items[j].heapIndex = j
}

func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.heapIndex = len(h.items)
	h.items = append(h.items, qp)
	h.index[qp.info.key] = qp
}

func (h *podHeap) Pop() any {
	last := len(h.items) - 1
	qp := h.items[last]
	h.items[last] = nil
	h.items = h.items[:last]
	delete(h.index, qp.info.key)
	qp.heapIndex = -1
	return qp
}
