package scheduler

import (
	v1 "k8s.io/api/core/v1"
)

const errReasonUnschedulable = "node(s) were unschedulable"

// unschedulableTaint is the taint that stands for spec.unschedulable
// (cordoned nodes); pods that tolerate it may still go there (DaemonSets).
var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// nodeUnschedulable rejects cordoned nodes (spec.unschedulable) unless the
// pod tolerates node.kubernetes.io/unschedulable:NoSchedule.
type nodeUnschedulable struct{}

func (nodeUnschedulable) id() pluginID { return pluginNodeUnschedulable }

func (nodeUnschedulable) preFilter(*cycleState, *podInfo, []*nodeInfo) (bool, *status) {
	return false, nil
}

func (nodeUnschedulable) filter(_ *cycleState, p *podInfo, n *nodeInfo) *status {
	if !n.node.Spec.Unschedulable {
		return nil
	}
	for i := range p.pod.Spec.Tolerations {
		if tolerates(&p.pod.Spec.Tolerations[i], &unschedulableTaint) {
			return nil
		}
	}
	return unresolvable(pluginNodeUnschedulable, errReasonUnschedulable)
}
