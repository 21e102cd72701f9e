package scheduler

import (
	v1 "k8s.io/api/core/v1"
)

// readinessTaint returns the taint a node's Ready condition implies:
// node.kubernetes.io/not-ready when Ready is False, .../unreachable when it
// is Unknown. The node lifecycle controller adds these taints
// (TaintNodesByCondition); until it has, the scheduler behaves as if it had,
// so a dead node gets no new pods in the meantime. Returns nil for ready
// nodes, nodes without a Ready condition, and nodes already carrying it.
func readinessTaint(node *v1.Node) *v1.Taint {
	var key string
	for i := range node.Status.Conditions {
		c := &node.Status.Conditions[i]
		if c.Type != v1.NodeReady {
			continue
		}
		switch c.Status {
		case v1.ConditionFalse:
			key = v1.TaintNodeNotReady
		case v1.ConditionUnknown:
			key = v1.TaintNodeUnreachable
		}
	}
	if key == "" {
		return nil
	}
	for i := range node.Spec.Taints {
		if node.Spec.Taints[i].Key == key {
			return nil
		}
	}
	return &v1.Taint{Key: key, Effect: v1.TaintEffectNoSchedule}
}

// nodeReadiness rejects nodes whose Ready condition is not True unless the
// pod tolerates the implied taint; the reason is worded as the taint's.
type nodeReadiness struct{}

func (nodeReadiness) id() pluginID { return pluginNodeReadiness }

func (nodeReadiness) preFilter(*cycleState, *podInfo, []*nodeInfo) (bool, *status) {
	return false, nil
}

func (nodeReadiness) filter(_ *cycleState, p *podInfo, n *nodeInfo) *status {
	if n.conditionTaint == nil || toleratesAny(p.pod.Spec.Tolerations, n.conditionTaint) {
		return nil
	}
	return unresolvable(pluginNodeReadiness, untoleratedTaintReason(n.conditionTaint))
}
