package scheduler

import (
	"context"
	"math"
	"sort"
	"sync"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// Preemption, as upstream's DefaultPreemption plugin: when no node fits a
// pod, look for nodes where evicting pods of lower priority would make it
// fit, pick the one where that costs least, evict those pods and nominate
// the node for the pod (status.nominatedNodeName). While the victims
// terminate, the nominated pod's requests are counted on that node for
// pods of lower or equal priority, so they cannot take the freed room.
// PodDisruptionBudgets are not consulted.

const (
	msgNoVictims      = "No preemption victims found for incoming pod"
	msgNotHelpful     = "Preemption is not helpful for scheduling"
	msgPolicyNever    = "not eligible due to preemptionPolicy=Never."
	msgTerminatingPod = "not eligible due to a terminating pod on the nominated node."
	// Upstream evaluates at least this many candidate nodes, or 10% of
	// the nodes where preemption may help.
	minCandidateNodesAbsolute   = 100
	minCandidateNodesPercentage = 10
)

// nominatedLoad is what nominated pods hold on one node.
type nominatedLoad struct {
	res  resources
	pods int64
}

type nominatedPod struct {
	node     string
	priority int32
	requests resources
}

// nominator remembers which pods preemption made room for, and where.
type nominator struct {
	mu   sync.Mutex
	pods map[types.UID]nominatedPod
}

func newNominator() *nominator { return &nominator{pods: make(map[types.UID]nominatedPod)} }

func (n *nominator) set(p *podInfo, node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if node == "" {
		delete(n.pods, p.pod.UID)
		return
	}
	n.pods[p.pod.UID] = nominatedPod{node: node, priority: p.priority, requests: p.requests}
}

func (n *nominator) remove(uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.pods, uid)
}

func (n *nominator) nodeOf(uid types.UID) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pods[uid].node
}

// loadFor sums, per node, the nominated pods that p must leave room for:
// those of at least p's priority, other than p itself. Nil when none.
func (n *nominator) loadFor(p *podInfo) map[string]*nominatedLoad {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out map[string]*nominatedLoad
	for uid, np := range n.pods {
		if uid == p.pod.UID || np.priority < p.priority {
			continue
		}
		if out == nil {
			out = make(map[string]*nominatedLoad)
		}
		l := out[np.node]
		if l == nil {
			l = &nominatedLoad{}
			out[np.node] = l
		}
		l.res.add(&np.requests)
		l.pods++
	}
	return out
}

// preemption is the outcome of a successful preemption search.
type preemption struct {
	node    string
	victims []*v1.Pod
}

// preempt looks for a node where evicting lower-priority pods lets p fit.
// It runs in the scheduling cycle, with the cache read-locked, after every
// node failed the filters; diag holds their verdicts. It returns the plan,
// or nil and upstream's explanation for the event message.
func (s *Scheduler) preempt(cs *cycleState, p *podInfo, diag *diagnosis) (*preemption, string) {
	if pol := p.pod.Spec.PreemptionPolicy; pol != nil && *pol == v1.PreemptNever {
		return nil, msgPolicyNever
	}
	if nom := s.nominator.nodeOf(p.pod.UID); nom != "" {
		// Victims of an earlier preemption are still terminating: wait for
		// them rather than evicting more (unless the node cannot work at all).
		for _, n := range diag.resolvable {
			if n.name != nom {
				continue
			}
			for _, ep := range n.pods {
				if ep.pod.DeletionTimestamp != nil && ep.priority < p.priority {
					return nil, msgTerminatingPod
				}
			}
		}
	}
	// Nodes whose failure evicting pods cannot fix count as "not helpful".
	report := &diagnosis{numNodes: diag.numNodes, reasons: map[string]int{}}
	if n := diag.numNodes - len(diag.resolvable); n > 0 {
		report.reasons[msgNotHelpful] = n
	}
	potential := diag.resolvable
	if len(potential) == 0 {
		return nil, report.message()
	}
	// Like upstream, look for a limited number of candidates, starting at a
	// random node so repeated preemptions do not all hit the same nodes.
	want := len(potential) * minCandidateNodesPercentage / 100
	want = max(want, minCandidateNodesAbsolute)
	want = min(want, len(potential))
	offset := s.rng.IntN(len(potential))
	var best *candidate
	found := 0
	for i := 0; i < len(potential) && found < want; i++ {
		c, st := s.victimsOn(cs, p, potential[(offset+i)%len(potential)])
		if c == nil {
			for _, r := range st.reasons {
				report.reasons[r]++
			}
			continue
		}
		found++
		if best == nil || c.better(best) {
			best = c
		}
	}
	if best == nil {
		return nil, report.message()
	}
	victims := make([]*v1.Pod, len(best.victims))
	for i, v := range best.victims {
		victims[i] = v.pod
	}
	return &preemption{node: best.node.name, victims: victims}, ""
}

// candidate is a node and the pods whose eviction lets the pod fit there.
type candidate struct {
	node    *nodeInfo
	victims []*podInfo // highest priority first
}

// better applies upstream's tie-breakers: lowest highest-victim priority,
// then lowest sum of victim priorities, then fewest victims, then the
// most recently started highest-priority victim.
func (c *candidate) better(o *candidate) bool {
	if a, b := c.victims[0].priority, o.victims[0].priority; a != b {
		return a < b
	}
	if a, b := c.prioritySum(), o.prioritySum(); a != b {
		return a < b
	}
	if len(c.victims) != len(o.victims) {
		return len(c.victims) < len(o.victims)
	}
	return startTime(c.victims[0].pod).After(startTime(o.victims[0].pod).Time)
}

func (c *candidate) prioritySum() int64 {
	var sum int64
	for _, v := range c.victims {
		// Shift so that negative priorities still add up sensibly (upstream).
		sum += int64(v.priority) + math.MaxInt32 + 1
	}
	return sum
}

func startTime(p *v1.Pod) metav1.Time {
	if p.Status.StartTime != nil {
		return *p.Status.StartTime
	}
	return p.CreationTimestamp
}

// victimsOn simulates node n without its lower-priority pods: if p fits,
// pods are given back, highest priority first, as long as p still fits;
// the rest are the victims. A nil candidate comes with the reason.
func (s *Scheduler) victimsOn(cs *cycleState, p *podInfo, n *nodeInfo) (*candidate, *status) {
	var potential []*podInfo
	for _, ep := range n.pods {
		if ep.priority < p.priority {
			potential = append(potential, ep)
		}
	}
	if len(potential) == 0 {
		return nil, &status{code: codeUnresolvable, reasons: []string{msgNoVictims}}
	}
	sim := n.cloneWithout(potential)
	simCS := cs.withoutPods(p, n, potential)
	if st := runFilters(s.activeFilters, simCS, p, sim); st != nil {
		return nil, st
	}
	// Reprieve the most important pods first.
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i], potential[j]) })
	var victims []*podInfo
	for _, ep := range potential {
		sim.addPod(ep)
		simCS.addBack(p, n, ep)
		if st := runFilters(s.activeFilters, simCS, p, sim); st != nil {
			sim.removePod(ep.pod.UID)
			simCS.withoutPod(p, n, ep)
			victims = append(victims, ep)
		}
	}
	if len(victims) == 0 {
		// Everything fit again: the pod was rejected for another reason
		// (e.g. a nominated pod); nothing to evict here.
		return nil, &status{code: codeUnresolvable, reasons: []string{msgNoVictims}}
	}
	return &candidate{node: n, victims: victims}, nil
}

// moreImportant orders pods by priority, then earlier start (upstream's MoreImportantPod).
func moreImportant(a, b *podInfo) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	ta, tb := startTime(a.pod), startTime(b.pod)
	return ta.Before(&tb)
}

// cloneWithout copies a node's accounting minus the given pods.
func (n *nodeInfo) cloneWithout(remove []*podInfo) *nodeInfo {
	c := &nodeInfo{
		node: n.node, name: n.name, allocatable: n.allocatable,
		zone: n.zone, conditionTaint: n.conditionTaint, hasPreferNoSchedule: n.hasPreferNoSchedule,
	}
	skip := make(map[types.UID]bool, len(remove))
	for _, r := range remove {
		skip[r.pod.UID] = true
	}
	for _, ep := range n.pods {
		if !skip[ep.pod.UID] {
			c.addPod(ep)
		}
	}
	return c
}

// withoutPods returns a copy of the cycle state as if the given pods on
// node n were gone (upstream's RemovePod pre-filter extensions).
func (cs *cycleState) withoutPods(p *podInfo, n *nodeInfo, pods []*podInfo) *cycleState {
	c := *cs
	if cs.interPod != nil {
		ip := &interPodAffinityState{
			existingAnti: cloneCounts(cs.interPod.existingAnti),
			affinity:     cloneCounts(cs.interPod.affinity),
			anti:         cloneCounts(cs.interPod.anti),
			selfMatch:    cs.interPod.selfMatch,
		}
		c.interPod = ip
	}
	if cs.hardSpread != nil {
		sp := &spreadState{matchNum: make([]map[string]int64, len(cs.hardSpread.matchNum)), minMatch: append([]int64(nil), cs.hardSpread.minMatch...)}
		for i, m := range cs.hardSpread.matchNum {
			sp.matchNum[i] = make(map[string]int64, len(m))
			for k, v := range m {
				sp.matchNum[i][k] = v
			}
		}
		c.hardSpread = sp
	}
	for _, ep := range pods {
		c.withoutPod(p, n, ep)
	}
	return &c
}

func cloneCounts(m map[topoPair]int64) map[topoPair]int64 {
	if m == nil {
		return nil
	}
	out := make(map[topoPair]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (cs *cycleState) withoutPod(p *podInfo, n *nodeInfo, ep *podInfo) { cs.adjustFor(p, n, ep, -1) }
func (cs *cycleState) addBack(p *podInfo, n *nodeInfo, ep *podInfo)    { cs.adjustFor(p, n, ep, 1) }

// adjustFor updates the affinity and spreading counts for pod ep on node
// n appearing (+1) or disappearing (-1).
func (cs *cycleState) adjustFor(p *podInfo, n *nodeInfo, ep *podInfo, delta int64) {
	if ip := cs.interPod; ip != nil {
		bump := func(m *map[topoPair]int64, key string) {
			v, ok := n.node.Labels[key]
			if !ok {
				return
			}
			if *m == nil {
				*m = make(map[topoPair]int64)
			}
			(*m)[topoPair{key, v}] += delta
		}
		for i := range ep.requiredAntiAffinity {
			if ep.requiredAntiAffinity[i].matches(p, cs.nsLabels) {
				bump(&ip.existingAnti, ep.requiredAntiAffinity[i].topologyKey)
			}
		}
		if matchesAllTerms(p.requiredAffinity, ep, cs.nsLabels) {
			for i := range p.requiredAffinity {
				bump(&ip.affinity, p.requiredAffinity[i].topologyKey)
			}
		}
		for i := range p.requiredAntiAffinity {
			if p.requiredAntiAffinity[i].matches(ep, cs.nsLabels) {
				bump(&ip.anti, p.requiredAntiAffinity[i].topologyKey)
			}
		}
	}
	if sp := cs.hardSpread; sp != nil && ep.pod.Namespace == p.pod.Namespace && hasAllTopologyKeys(n.node.Labels, p.hardSpread) {
		for i := range p.hardSpread {
			c := &p.hardSpread[i]
			if !c.nodeCounts(p, n) || !c.selector.matches(ep.pod.Labels) {
				continue
			}
			sp.matchNum[i][n.node.Labels[c.topologyKey]] += delta
			min := int64(math.MaxInt64)
			for _, v := range sp.matchNum[i] {
				if v < min {
					min = v
				}
			}
			if min == math.MaxInt64 || int32(len(sp.matchNum[i])) < c.minDomains {
				min = 0
			}
			sp.minMatch[i] = min
		}
	}
}

// evict deletes the victims of a preemption, marking each with the
// DisruptionTarget condition and a Preempted event first, as upstream does.
func (s *Scheduler) evict(ctx context.Context, preemptor *v1.Pod, plan *preemption) {
	logger := klog.FromContext(ctx)
	for _, victim := range plan.victims {
		if err := s.markDisruptionTarget(ctx, victim); err != nil {
			logger.V(2).Info("Could not mark preemption victim", "pod", klog.KObj(victim), "err", err)
		}
		err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &victim.UID},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			logger.Error(err, "Could not preempt pod", "pod", klog.KObj(victim), "preemptor", klog.KObj(preemptor))
			continue
		}
		s.recorder.Eventf(victim, v1.EventTypeNormal, "Preempted", "Preempted by pod %s on node %s", preemptor.UID, plan.node)
	}
}

func (s *Scheduler) markDisruptionTarget(ctx context.Context, victim *v1.Pod) error {
	cur := victim.DeepCopy()
	now := metav1.NewTime(s.opts.Clock.Now())
	cond := v1.PodCondition{
		Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonPreemptionByScheduler,
		Message: s.opts.SchedulerName + ": preempting to accommodate a higher priority pod", LastTransitionTime: now,
	}
	replaced := false
	for i := range cur.Status.Conditions {
		if cur.Status.Conditions[i].Type == v1.DisruptionTarget {
			cur.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		cur.Status.Conditions = append(cur.Status.Conditions, cond)
	}
	_, err := s.client.CoreV1().Pods(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
