package scheduler

import (
	"k8s.io/apimachinery/pkg/labels"
)

const (
	errReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	errReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
	errReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"

	// hardPodAffinityWeight is how much an existing pod's *required*
	// affinity to the incoming pod counts in scoring (upstream's default).
	hardPodAffinityWeight int64 = 1
)

// topoPair is one topology domain: a node label key and its value.
type topoPair struct{ key, value string }

type interPodAffinityState struct {
	// existingAnti counts, per domain, existing pods whose required
	// anti-affinity selects the incoming pod.
	existingAnti map[topoPair]int64
	// affinity/anti count, per domain, existing pods the incoming pod's
	// required (anti-)affinity selects.
	affinity map[topoPair]int64
	anti     map[topoPair]int64
	// selfMatch: the pod satisfies its own affinity terms, so the first pod
	// of a group that wants to be together may go anywhere.
	selfMatch bool
}

// interPodAffinity enforces required pod affinity and anti-affinity, both
// the incoming pod's and the anti-affinity of pods already running.
type interPodAffinity struct{}

func (interPodAffinity) id() pluginID { return pluginInterPodAffinity }

func (interPodAffinity) preFilter(cs *cycleState, p *podInfo, nodes []*nodeInfo) (bool, *status) {
	if len(p.requiredAffinity) == 0 && len(p.requiredAntiAffinity) == 0 && !cs.anyPodWithRequiredAntiAffinity {
		return true, nil
	}
	st := &interPodAffinityState{}
	for _, n := range nodes {
		if n.podsWithRequiredAntiAffinity == 0 {
			continue
		}
		for _, ep := range n.pods {
			for i := range ep.requiredAntiAffinity {
				t := &ep.requiredAntiAffinity[i]
				v, ok := n.node.Labels[t.topologyKey]
				if !ok || !t.matches(p, cs.nsLabels) {
					continue
				}
				if st.existingAnti == nil {
					st.existingAnti = make(map[topoPair]int64)
				}
				st.existingAnti[topoPair{t.topologyKey, v}]++
			}
		}
	}
	if len(p.requiredAffinity) == 0 && len(p.requiredAntiAffinity) == 0 && len(st.existingAnti) == 0 {
		return true, nil
	}
	if len(p.requiredAffinity) > 0 || len(p.requiredAntiAffinity) > 0 {
		for _, n := range nodes {
			for _, ep := range n.pods {
				if len(p.requiredAffinity) > 0 && matchesAllTerms(p.requiredAffinity, ep, cs.nsLabels) {
					for i := range p.requiredAffinity {
						t := &p.requiredAffinity[i]
						if v, ok := n.node.Labels[t.topologyKey]; ok {
							if st.affinity == nil {
								st.affinity = make(map[topoPair]int64)
							}
							st.affinity[topoPair{t.topologyKey, v}]++
						}
					}
				}
				for i := range p.requiredAntiAffinity {
					t := &p.requiredAntiAffinity[i]
					if !t.matches(ep, cs.nsLabels) {
						continue
					}
					v, ok := n.node.Labels[t.topologyKey]
					if !ok {
						continue
					}
					if st.anti == nil {
						st.anti = make(map[topoPair]int64)
					}
					st.anti[topoPair{t.topologyKey, v}]++
				}
			}
		}
		st.selfMatch = matchesAllTerms(p.requiredAffinity, p, cs.nsLabels)
	}
	cs.interPod = st
	return false, nil
}

func matchesAllTerms(terms []affinityTerm, p *podInfo, nsLabels func(string) labels.Set) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].matches(p, nsLabels) {
			return false
		}
	}
	return true
}

func (interPodAffinity) filter(cs *cycleState, p *podInfo, n *nodeInfo) *status {
	st := cs.interPod
	nodeLabels := n.node.Labels
	// Affinity: every term's domain on this node must hold a matching pod.
	if len(p.requiredAffinity) > 0 {
		exists := true
		for i := range p.requiredAffinity {
			t := &p.requiredAffinity[i]
			v, ok := nodeLabels[t.topologyKey]
			if !ok {
				return unresolvable(pluginInterPodAffinity, errReasonAffinityRulesNotMatch)
			}
			if st.affinity[topoPair{t.topologyKey, v}] <= 0 {
				exists = false
			}
		}
		if !exists && !(len(st.affinity) == 0 && st.selfMatch) {
			return unresolvable(pluginInterPodAffinity, errReasonAffinityRulesNotMatch)
		}
	}
	if len(st.anti) > 0 {
		for i := range p.requiredAntiAffinity {
			t := &p.requiredAntiAffinity[i]
			if v, ok := nodeLabels[t.topologyKey]; ok && st.anti[topoPair{t.topologyKey, v}] > 0 {
				return unschedulable(pluginInterPodAffinity, errReasonAntiAffinityRulesNotMatch)
			}
		}
	}
	if len(st.existingAnti) > 0 {
		for k, v := range nodeLabels {
			if st.existingAnti[topoPair{k, v}] > 0 {
				return unschedulable(pluginInterPodAffinity, errReasonExistingAntiAffinityRulesNotMatch)
			}
		}
	}
	return nil
}

// interPodAffinityScore sums, per topology domain, the weights of preferred
// terms between the incoming pod and existing pods (both directions) plus
// existing pods' required affinity to the incoming pod.
type interPodAffinityScore struct{}

type interPodScoreState struct {
	topoScore map[string]map[string]int64 // topology key -> value -> score
}

func (interPodAffinityScore) weight() int64 { return 2 }

func (interPodAffinityScore) preScore(cs *cycleState, p *podInfo, _ []*nodeInfo) bool {
	// Existing pods' terms count on every node of the cluster, not only the
	// feasible ones, so walk cs.allNodes.
	hasConstraints := len(p.preferredAffinity) > 0 || len(p.preferredAntiAffinity) > 0
	if !hasConstraints && !cs.anyPodWithAffinity {
		return false
	}
	st := &interPodScoreState{topoScore: make(map[string]map[string]int64)}
	add := func(t *affinityTerm, weight int64, target *podInfo, n *nodeInfo) {
		if !t.matches(target, cs.nsLabels) {
			return
		}
		v, ok := n.node.Labels[t.topologyKey]
		if !ok {
			return
		}
		m := st.topoScore[t.topologyKey]
		if m == nil {
			m = make(map[string]int64)
			st.topoScore[t.topologyKey] = m
		}
		m[v] += weight
	}
	for _, n := range cs.allNodes {
		if len(n.pods) == 0 || (!hasConstraints && n.podsWithAffinity == 0) || len(n.node.Labels) == 0 {
			continue
		}
		for _, ep := range n.pods {
			if !hasConstraints && !ep.hasAffinityTerms() {
				continue
			}
			if hasConstraints {
				for i := range p.preferredAffinity {
					add(&p.preferredAffinity[i], int64(p.preferredAffinity[i].weight), ep, n)
				}
				for i := range p.preferredAntiAffinity {
					add(&p.preferredAntiAffinity[i], -int64(p.preferredAntiAffinity[i].weight), ep, n)
				}
			}
			for i := range ep.requiredAffinity {
				add(&ep.requiredAffinity[i], hardPodAffinityWeight, p, n)
			}
			for i := range ep.preferredAffinity {
				add(&ep.preferredAffinity[i], int64(ep.preferredAffinity[i].weight), p, n)
			}
			for i := range ep.preferredAntiAffinity {
				add(&ep.preferredAntiAffinity[i], -int64(ep.preferredAntiAffinity[i].weight), p, n)
			}
		}
	}
	if len(st.topoScore) == 0 {
		return false
	}
	cs.interScore = st
	return true
}

func (interPodAffinityScore) score(cs *cycleState, _ *podInfo, nodes []*nodeInfo, scores []int64) {
	st := cs.interScore
	for i, n := range nodes {
		var s int64
		for key, values := range st.topoScore {
			if v, ok := n.node.Labels[key]; ok {
				s += values[v]
			}
		}
		scores[i] = s
	}
	// Map [min, max] onto [0, 100].
	min, max := scores[0], scores[0]
	for _, s := range scores {
		if s < min {
			min = s
		}
		if s > max {
			max = s
		}
	}
	diff := max - min
	for i, s := range scores {
		if diff > 0 {
			scores[i] = maxNodeScore * (s - min) / diff
		} else {
			scores[i] = 0
		}
	}
}
