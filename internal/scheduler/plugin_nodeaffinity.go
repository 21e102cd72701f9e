package scheduler

const errReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

// nodeAffinity enforces spec.nodeSelector and required node affinity, and
// (as a scorer) sums the weights of matching preferred terms.
type nodeAffinity struct{}

func (nodeAffinity) id() pluginID { return pluginNodeAffinity }

func (nodeAffinity) preFilter(_ *cycleState, p *podInfo, _ []*nodeInfo) (bool, *status) {
	return !p.hasNodeAffinity, nil
}

func (nodeAffinity) filter(_ *cycleState, p *podInfo, n *nodeInfo) *status {
	// A malformed term matches no node (the API server validates terms, so
	// this only concerns objects written around validation).
	if ok, err := p.requiredNodeAff.Match(n.node); !ok || err != nil {
		return unresolvable(pluginNodeAffinity, errReasonNodeAffinity)
	}
	return nil
}

type nodeAffinityScore struct{}

func (nodeAffinityScore) weight() int64 { return 2 }

func (nodeAffinityScore) preScore(_ *cycleState, p *podInfo, _ []*nodeInfo) bool {
	return p.preferredNodeAff != nil
}

func (nodeAffinityScore) score(_ *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64) {
	for i, n := range nodes {
		scores[i] = p.preferredNodeAff.Score(n.node)
	}
	defaultNormalize(scores, false)
}
