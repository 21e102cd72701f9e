// Package scheduler assigns pending pods to nodes, the way kube-scheduler
// does: an informer-fed priority queue with back-off, a cache of nodes and
// the pods on them (including pods the scheduler has assumed but whose
// binding the informer has not shown yet), filter plugins that rule nodes
// out, score plugins that rank the rest, and asynchronous binding through
// the pods/binding subresource.
//
// One scheduling cycle: pop a pod; run the filters' pre-filter step once for
// the pod; walk the nodes round-robin from where the previous cycle stopped,
// keeping the first nodes that pass every filter (on large clusters only a
// sample, like upstream's percentageOfNodesToScore); score those; pick the
// best (ties at random); count the pod on that node in the cache; hand the
// API call to a bounded pool of binders and start the next cycle.
package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// DefaultSchedulerName is the spec.schedulerName this scheduler serves by default.
const DefaultSchedulerName = v1.DefaultSchedulerName

// Options tunes the scheduler; the zero value is upstream's behaviour.
type Options struct {
	// SchedulerName selects the pods to schedule (spec.schedulerName);
	// default "default-scheduler". Pods with an empty name count as ours.
	SchedulerName string
	// PercentageOfNodesToScore caps how many feasible nodes are looked for
	// on large clusters; 0 picks upstream's adaptive value (50% at 0 nodes,
	// falling by 1% per 125 nodes, at least 5% and at least 100 nodes).
	PercentageOfNodesToScore int
	// BindConcurrency bounds concurrent API calls (bindings and status
	// updates); default 64. The scheduling loop waits when all are busy.
	BindConcurrency int
	// InitialBackoff and MaxBackoff bound the retry delay of pods that
	// failed; defaults 1s and 10s, doubling per attempt.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Clock is the time source; tests inject a fake one. Default: real time.
	Clock clock.WithTicker
	// Recorder receives the Scheduled and FailedScheduling events. Default:
	// a recorder writing core/v1 Events through the client, started by Run.
	Recorder record.EventRecorder
}

// Scheduler is one scheduler instance; create it with New, start it with Run.
type Scheduler struct {
	client   kubernetes.Interface
	opts     Options
	queue    *schedulingQueue
	cache    *schedulerCache
	pods     corelisters.PodLister
	nsLister corelisters.NamespaceLister
	synced   []cache.InformerSynced

	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster // nil when the caller gave a recorder

	filters   []filter
	scorers   []scorer
	nominator *nominator

	// Owned by the scheduling goroutine only.
	rng           *rand.Rand
	nextStart     int
	activeFilters []filter
	feasible      []*nodeInfo
	scoreBuf      []int64
	totalBuf      []int64

	asyncSem chan struct{}
	asyncWG  sync.WaitGroup
}

// New builds a scheduler and registers its informers (pods, nodes,
// namespaces) on factory; the caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Scheduler {
	if opts.SchedulerName == "" {
		opts.SchedulerName = DefaultSchedulerName
	}
	if opts.BindConcurrency <= 0 {
		opts.BindConcurrency = 64
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.MaxBackoff < opts.InitialBackoff {
		opts.MaxBackoff = opts.InitialBackoff
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	s := &Scheduler{
		client: client,
		opts:   opts,
		queue:  newSchedulingQueue(opts.Clock, opts.InitialBackoff, opts.MaxBackoff),
		cache:  newSchedulerCache(),
		// Upstream's filter order: cheap, unresolvable checks first; a node
		// is reported with the first filter that rejects it.
		filters: []filter{
			nodeUnschedulable{}, nodeName{}, taintToleration{}, nodeReadiness{},
			nodeAffinity{}, nodePorts{}, nodeResourcesFit{},
			podTopologySpread{}, interPodAffinity{},
		},
		scorers: []scorer{
			taintTolerationScore{}, nodeAffinityScore{}, podTopologySpreadScore{},
			interPodAffinityScore{}, leastAllocated{}, balancedAllocation{}, selectorSpread{},
		},
		nominator: newNominator(),
		rng:       rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5c1ff)),
		asyncSem:  make(chan struct{}, opts.BindConcurrency),
	}
	s.recorder = opts.Recorder
	if s.recorder == nil {
		s.broadcaster = record.NewBroadcaster()
		s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: opts.SchedulerName})
	}

	podInformer := factory.Core().V1().Pods()
	nodeInformer := factory.Core().V1().Nodes()
	nsInformer := factory.Core().V1().Namespaces()
	s.pods = podInformer.Lister()
	s.nsLister = nsInformer.Lister()
	s.synced = []cache.InformerSynced{
		podInformer.Informer().HasSynced, nodeInformer.Informer().HasSynced, nsInformer.Informer().HasSynced,
	}
	s.addEventHandlers(podInformer.Informer(), nodeInformer.Informer())
	return s
}

// Run schedules pods until ctx is done, then waits for in-flight bindings.
func (s *Scheduler) Run(ctx context.Context) {
	logger := klog.FromContext(ctx)
	if s.broadcaster != nil {
		s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
		defer s.broadcaster.Shutdown()
	}
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return
	}
	logger.Info("Scheduler started", "schedulerName", s.opts.SchedulerName)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.queue.run(ctx, s.opts.Clock)
	}()
	go func() {
		<-ctx.Done()
		s.queue.close()
	}()
	for s.scheduleOne(ctx) {
	}
	wg.Wait()
	s.asyncWG.Wait()
}

// scheduleOne runs one scheduling cycle; false means the queue closed.
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	qp, cycle, ok := s.queue.pop(ctx)
	if !ok {
		return false
	}
	pod := qp.info.pod
	if pod.DeletionTimestamp != nil || s.cache.isAssumedOrBound(pod.UID) {
		s.queue.done(qp.info.key)
		return true
	}
	if qp.info.parseErr != nil {
		s.queue.requeueFailed(qp, cycle, 0, true)
		msg := fmt.Sprintf("invalid pod spec: %v", qp.info.parseErr)
		s.async(ctx, func(ctx context.Context) { s.reportFailure(ctx, pod, "SchedulerError", msg, nil) })
		return true
	}

	host, diag, plan := s.schedulePod(qp.info)
	if host == nil {
		s.queue.requeueFailed(qp, cycle, diag.plugins, false)
		msg := "no nodes available to schedule pods"
		if diag.numNodes > 0 {
			msg = diag.message()
		}
		var nominate *string
		if plan != nil {
			// Room is being made: hold it for this pod while the victims go.
			s.nominator.set(qp.info, plan.node)
			nominate = &plan.node
		}
		s.async(ctx, func(ctx context.Context) {
			if plan != nil {
				s.evict(ctx, pod, plan)
			}
			s.reportFailure(ctx, pod, v1.PodReasonUnschedulable, msg, nominate)
		})
		return true
	}

	// Count the pod on its node now, so the next cycle sees it, and bind in
	// the background.
	assumed := *pod
	assumed.Spec.NodeName = host.name
	info := *qp.info
	info.pod = &assumed
	s.cache.assumePod(&info)
	s.nominator.remove(pod.UID)
	s.queue.done(qp.info.key)
	nodeName := host.name
	s.async(ctx, func(ctx context.Context) { s.bind(ctx, qp, cycle, &assumed, nodeName) })
	return true
}

// schedulePod returns the chosen node, or nil, why no node fits, and the
// preemption that will make room, if any.
func (s *Scheduler) schedulePod(p *podInfo) (*nodeInfo, *diagnosis, *preemption) {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	nodes := s.cache.nodeList
	diag := &diagnosis{numNodes: len(nodes)}
	if len(nodes) == 0 {
		return nil, diag, nil
	}
	cs := &cycleState{
		allNodes:                       nodes,
		nominated:                      s.nominator.loadFor(p),
		anyPodWithAffinity:             s.cache.podsWithAffinity > 0,
		anyPodWithRequiredAntiAffinity: s.cache.podsWithRequiredAntiAffinity > 0,
	}
	cs.nsLabels = s.namespaceLabels(cs)

	active := s.activeFilters[:0]
	for _, f := range s.filters {
		skip, st := f.preFilter(cs, p, nodes)
		if st != nil {
			diag.preFilter = st.reasons[0]
			diag.plugins |= st.plugin
			return nil, diag, nil
		}
		if !skip {
			active = append(active, f)
		}
	}
	s.activeFilters = active

	// A pod that preempted others goes to its nominated node if it fits
	// there now (upstream evaluates that node first).
	nom := s.nominator.nodeOf(p.pod.UID)
	if nom == "" {
		nom = p.pod.Status.NominatedNodeName
	}
	if nom != "" {
		if i, ok := s.cache.nodeIdx[nom]; ok {
			if n := nodes[i]; runFilters(active, cs, p, n) == nil {
				return n, nil, nil
			}
		}
	}

	want := s.numFeasibleNodesToFind(len(nodes))
	feasible := s.feasible[:0]
	start, processed := s.nextStart, 0
	for i := 0; i < len(nodes) && len(feasible) < want; i++ {
		n := nodes[(start+i)%len(nodes)]
		processed++
		if st := runFilters(active, cs, p, n); st != nil {
			diag.record(n, st)
			continue
		}
		feasible = append(feasible, n)
	}
	s.feasible = feasible
	s.nextStart = (start + processed) % len(nodes)
	switch len(feasible) {
	case 0:
		plan, msg := s.preempt(cs, p, diag)
		if msg != "" {
			diag.postFilter = "preemption: " + msg
		}
		return nil, diag, plan
	case 1:
		return feasible[0], nil, nil
	}
	return s.selectHost(cs, p, feasible), nil, nil
}

func runFilters(filters []filter, cs *cycleState, p *podInfo, n *nodeInfo) *status {
	for _, f := range filters {
		if st := f.filter(cs, p, n); st != nil {
			return st
		}
	}
	return nil
}

// numFeasibleNodesToFind is upstream's sampling: on large clusters stop
// filtering once enough feasible nodes are found to score well.
func (s *Scheduler) numFeasibleNodesToFind(numNodes int) int {
	const minFeasibleNodesToFind, minPercentage = 100, 5
	if numNodes < minFeasibleNodesToFind {
		return numNodes
	}
	pct := s.opts.PercentageOfNodesToScore
	if pct <= 0 {
		pct = 50 - numNodes/125
		if pct < minPercentage {
			pct = minPercentage
		}
	}
	if pct >= 100 {
		return numNodes
	}
	n := numNodes * pct / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// selectHost scores the feasible nodes and returns a best one, chosen
// uniformly among ties.
func (s *Scheduler) selectHost(cs *cycleState, p *podInfo, nodes []*nodeInfo) *nodeInfo {
	if cap(s.totalBuf) < len(nodes) {
		s.totalBuf = make([]int64, len(nodes))
		s.scoreBuf = make([]int64, len(nodes))
	}
	total := s.totalBuf[:len(nodes)]
	buf := s.scoreBuf[:len(nodes)]
	clear(total)
	for _, sc := range s.scorers {
		if !sc.preScore(cs, p, nodes) {
			continue
		}
		sc.score(cs, p, nodes, buf)
		w := sc.weight()
		for i, v := range buf {
			total[i] += v * w
		}
	}
	best, ties := 0, 1
	for i := 1; i < len(nodes); i++ {
		switch {
		case total[i] > total[best]:
			best, ties = i, 1
		case total[i] == total[best]:
			ties++
			if s.rng.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return nodes[best]
}

// namespaceLabels returns a memoizing namespace-label lookup for one cycle.
func (s *Scheduler) namespaceLabels(cs *cycleState) func(string) labels.Set {
	var memo map[string]labels.Set
	return func(ns string) labels.Set {
		if l, ok := memo[ns]; ok {
			return l
		}
		var l labels.Set
		if obj, err := s.nsLister.Get(ns); err == nil {
			l = labels.Set(obj.Labels)
		}
		if memo == nil {
			memo = make(map[string]labels.Set)
		}
		memo[ns] = l
		return l
	}
}

// async runs fn on the bounded pool of API workers, waiting for a free slot.
func (s *Scheduler) async(ctx context.Context, fn func(context.Context)) {
	select {
	case s.asyncSem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	s.asyncWG.Add(1)
	go func() {
		defer s.asyncWG.Done()
		defer func() { <-s.asyncSem }()
		fn(ctx)
	}()
}

// bind writes the binding. On failure the assumption is dropped and the
// pod retried after back-off, unless it is gone or already bound.
func (s *Scheduler) bind(ctx context.Context, qp *queuedPod, cycle int64, pod *v1.Pod, node string) {
	binding := &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{})
	if err == nil {
		s.recorder.Eventf(pod, v1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
		return
	}
	s.cache.forgetPod(pod.UID)
	// The node has room again for pods that did not fit because of this one.
	s.queue.moveOnEvent(clusterEvent{plugins: assignedPodDeletePlugins})
	if ctx.Err() != nil || apierrors.IsNotFound(err) {
		return
	}
	cur, getErr := s.pods.Pods(pod.Namespace).Get(pod.Name)
	if getErr != nil || cur.UID != pod.UID || cur.Spec.NodeName != "" {
		return
	}
	klog.FromContext(ctx).V(2).Info("Binding failed", "pod", klog.KObj(pod), "node", node, "err", err)
	s.queue.requeueFailed(qp, cycle, 0, true)
	s.reportFailure(ctx, cur, "SchedulerError", fmt.Sprintf("Binding rejected: %v", err), nil)
}

// reportFailure emits a FailedScheduling event and sets the pod's
// PodScheduled condition to False with the same message, and its
// status.nominatedNodeName when nominate is given.
func (s *Scheduler) reportFailure(ctx context.Context, pod *v1.Pod, reason, msg string, nominate *string) {
	s.recorder.Event(pod, v1.EventTypeWarning, "FailedScheduling", msg)
	if err := s.setScheduledCondition(ctx, pod, reason, msg, nominate); err != nil {
		klog.FromContext(ctx).V(2).Info("Could not update pod condition", "pod", klog.KObj(pod), "err", err)
	}
}

func (s *Scheduler) setScheduledCondition(ctx context.Context, pod *v1.Pod, reason, msg string, nominate *string) error {
	cur := pod
	if fresh, err := s.pods.Pods(pod.Namespace).Get(pod.Name); err == nil {
		cur = fresh
	}
	for attempt := 0; ; attempt++ {
		if cur.UID != pod.UID || cur.Spec.NodeName != "" || cur.DeletionTimestamp != nil {
			return nil
		}
		updated, changed := withScheduledCondition(cur, reason, msg, s.opts.Clock.Now())
		if nominate != nil && cur.Status.NominatedNodeName != *nominate {
			if !changed {
				updated = cur.DeepCopy()
			}
			updated.Status.NominatedNodeName = *nominate
			changed = true
		}
		if !changed {
			return nil
		}
		_, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case !apierrors.IsConflict(err) || attempt >= 3:
			return fmt.Errorf("update status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		cur, err = s.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("get pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
}

// withScheduledCondition returns a copy of pod with PodScheduled=False and
// the given reason and message, and whether that changed anything.
func withScheduledCondition(pod *v1.Pod, reason, msg string, now time.Time) (*v1.Pod, bool) {
	cond := v1.PodCondition{
		Type:               v1.PodScheduled,
		Status:             v1.ConditionFalse,
		Reason:             reason,
		Message:            msg,
		LastTransitionTime: metav1.NewTime(now),
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != v1.PodScheduled {
			continue
		}
		if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
			return pod, false
		}
		if c.Status == cond.Status {
			cond.LastTransitionTime = c.LastTransitionTime
		}
	}
	out := pod.DeepCopy()
	replaced := false
	for i := range out.Status.Conditions {
		if out.Status.Conditions[i].Type == v1.PodScheduled {
			out.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		out.Status.Conditions = append(out.Status.Conditions, cond)
	}
	return out, true
}

// responsibleFor reports whether this scheduler should place the pod.
func (s *Scheduler) responsibleFor(pod *v1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return name == s.opts.SchedulerName
}
