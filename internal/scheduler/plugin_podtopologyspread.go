package scheduler

import (
	"math"

	v1 "k8s.io/api/core/v1"
)

const (
	errReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	errReasonNodeLabelNotMatch   = errReasonConstraintsNotMatch + " (missing required label)"
)

// spreadConstraint is a parsed TopologySpreadConstraint.
type spreadConstraint struct {
	maxSkew     int32
	minDomains  int32
	topologyKey string
	selector    podSelector
	// Which nodes count when computing skew (upstream's defaults: honour
	// node affinity, ignore taints).
	honorNodeAffinity bool
	honorNodeTaints   bool
}

func (p *podInfo) parseSpreadConstraints(pod *v1.Pod) (hard, soft []spreadConstraint) {
	for i := range pod.Spec.TopologySpreadConstraints {
		c := &pod.Spec.TopologySpreadConstraints[i]
		ls := c.LabelSelector
		if len(c.MatchLabelKeys) > 0 && ls != nil {
			ls = mergeLabelKeys(ls, pod.Labels, c.MatchLabelKeys, nil)
		}
		sel, err := newPodSelector(ls)
		if err != nil {
			p.parseErr = err
			continue
		}
		sc := spreadConstraint{
			maxSkew:           c.MaxSkew,
			minDomains:        1,
			topologyKey:       c.TopologyKey,
			selector:          sel,
			honorNodeAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor,
			honorNodeTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor,
		}
		if c.MinDomains != nil {
			sc.minDomains = *c.MinDomains
		}
		if c.WhenUnsatisfiable == v1.ScheduleAnyway {
			soft = append(soft, sc)
		} else {
			hard = append(hard, sc)
		}
	}
	return hard, soft
}

// nodeCounts reports whether node n takes part in spreading for constraint c.
func (c *spreadConstraint) nodeCounts(p *podInfo, n *nodeInfo) bool {
	if c.honorNodeAffinity && p.hasNodeAffinity {
		if ok, err := p.requiredNodeAff.Match(n.node); !ok || err != nil {
			return false
		}
	}
	if c.honorNodeTaints {
		for i := range n.node.Spec.Taints {
			t := &n.node.Spec.Taints[i]
			if (t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute) && !toleratesAny(p.pod.Spec.Tolerations, t) {
				return false
			}
		}
	}
	return true
}

func hasAllTopologyKeys(nodeLabels map[string]string, cs []spreadConstraint) bool {
	for i := range cs {
		if _, ok := nodeLabels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts the node's pods in ns that the selector matches,
// leaving out pods being deleted.
func countMatching(n *nodeInfo, sel *podSelector, ns string) int64 {
	var count int64
	for _, ep := range n.pods {
		if ep.pod.Namespace != ns || ep.pod.DeletionTimestamp != nil {
			continue
		}
		if sel.matches(ep.pod.Labels) {
			count++
		}
	}
	return count
}

type spreadState struct {
	// matchNum[i] maps constraint i's domains to matching pod counts.
	matchNum []map[string]int64
	// minMatch[i] is the smallest count over constraint i's domains.
	minMatch []int64
}

// podTopologySpread enforces DoNotSchedule topology spread constraints:
// placing the pod must not make any domain exceed the least loaded one by
// more than maxSkew.
type podTopologySpread struct{}

func (podTopologySpread) id() pluginID { return pluginPodTopologySpread }

// preFilter counts, over all nodes, the pods each constraint selects per
// domain, and each constraint's least loaded domain.
func (podTopologySpread) preFilter(cs *cycleState, p *podInfo, nodes []*nodeInfo) (bool, *status) {
	constraints := p.hardSpread
	if len(constraints) == 0 {
		return true, nil
	}
	st := &spreadState{
		matchNum: make([]map[string]int64, len(constraints)),
		minMatch: make([]int64, len(constraints)),
	}
	for i := range constraints {
		st.matchNum[i] = make(map[string]int64)
	}
	for _, n := range nodes {
		if !hasAllTopologyKeys(n.node.Labels, constraints) {
			continue
		}
		for i := range constraints {
			c := &constraints[i]
			if !c.nodeCounts(p, n) {
				continue
			}
			st.matchNum[i][n.node.Labels[c.topologyKey]] += countMatching(n, &c.selector, p.pod.Namespace)
		}
	}
	for i := range constraints {
		min := int64(math.MaxInt64)
		for _, v := range st.matchNum[i] {
			if v < min {
				min = v
			}
		}
		// Fewer domains than minDomains: the global minimum counts as 0.
		if min == math.MaxInt64 || int32(len(st.matchNum[i])) < constraints[i].minDomains {
			min = 0
		}
		st.minMatch[i] = min
	}
	cs.hardSpread = st
	return false, nil
}

func (podTopologySpread) filter(cs *cycleState, p *podInfo, n *nodeInfo) *status {
	st := cs.hardSpread
	for i := range p.hardSpread {
		c := &p.hardSpread[i]
		v, ok := n.node.Labels[c.topologyKey]
		if !ok {
			return unresolvable(pluginPodTopologySpread, errReasonNodeLabelNotMatch)
		}
		var self int64
		if c.selector.matches(p.pod.Labels) {
			self = 1
		}
		if st.matchNum[i][v]+self-st.minMatch[i] > int64(c.maxSkew) {
			return unschedulable(pluginPodTopologySpread, errReasonConstraintsNotMatch)
		}
	}
	return nil
}

// podTopologySpreadScore prefers nodes in less loaded domains for
// ScheduleAnyway constraints (upstream's scoring, with log-weighted domains).
type podTopologySpreadScore struct{}

type spreadScoreState struct {
	// counts per constraint: domain value -> matching pods (not used for hostname).
	counts  []map[string]int64
	weights []float64
	ignored map[*nodeInfo]bool // feasible nodes lacking a topology key
}

func (podTopologySpreadScore) weight() int64 { return 2 }

func (podTopologySpreadScore) preScore(cs *cycleState, p *podInfo, nodes []*nodeInfo) bool {
	constraints := p.softSpread
	if len(constraints) == 0 {
		return false
	}
	st := &spreadScoreState{
		counts:  make([]map[string]int64, len(constraints)),
		weights: make([]float64, len(constraints)),
		ignored: make(map[*nodeInfo]bool),
	}
	sizes := make([]int, len(constraints))
	for i := range constraints {
		st.counts[i] = make(map[string]int64)
	}
	for _, n := range nodes {
		if !hasAllTopologyKeys(n.node.Labels, constraints) {
			st.ignored[n] = true
			continue
		}
		for i := range constraints {
			if constraints[i].topologyKey == v1.LabelHostname {
				continue
			}
			v := n.node.Labels[constraints[i].topologyKey]
			if _, ok := st.counts[i][v]; !ok {
				st.counts[i][v] = 0
				sizes[i]++
			}
		}
	}
	for i := range constraints {
		size := sizes[i]
		if constraints[i].topologyKey == v1.LabelHostname {
			size = len(nodes) - len(st.ignored)
		}
		st.weights[i] = math.Log(float64(size + 2))
	}
	// Pods on every eligible node of the cluster count toward the domains
	// of the feasible ones.
	for _, n := range cs.allNodes {
		if !hasAllTopologyKeys(n.node.Labels, constraints) {
			continue
		}
		for i := range constraints {
			c := &constraints[i]
			if c.topologyKey == v1.LabelHostname || !c.nodeCounts(p, n) {
				continue
			}
			v := n.node.Labels[c.topologyKey]
			if _, ok := st.counts[i][v]; ok {
				st.counts[i][v] += countMatching(n, &c.selector, p.pod.Namespace)
			}
		}
	}
	cs.softSpread = st
	return true
}

func (podTopologySpreadScore) score(cs *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64) {
	st := cs.softSpread
	constraints := p.softSpread
	for i, n := range nodes {
		if st.ignored[n] {
			scores[i] = -1
			continue
		}
		var s float64
		for j := range constraints {
			c := &constraints[j]
			var cnt int64
			if c.topologyKey == v1.LabelHostname {
				cnt = countMatching(n, &c.selector, p.pod.Namespace)
			} else {
				cnt = st.counts[j][n.node.Labels[c.topologyKey]]
			}
			s += float64(cnt)*st.weights[j] + float64(c.maxSkew-1)
		}
		scores[i] = int64(math.Round(s))
	}
	// Fewer matching pods is better; ignored nodes score 0.
	min, max := int64(math.MaxInt64), int64(0)
	for _, s := range scores {
		if s < 0 {
			continue
		}
		if s < min {
			min = s
		}
		if s > max {
			max = s
		}
	}
	for i, s := range scores {
		switch {
		case s < 0:
			scores[i] = 0
		case max == 0:
			scores[i] = maxNodeScore
		default:
			scores[i] = maxNodeScore * (max + min - s) / max
		}
	}
}
