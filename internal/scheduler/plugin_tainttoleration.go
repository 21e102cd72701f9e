package scheduler

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// tolerates reports whether a toleration matches a taint (Equal/Exists
// semantics; numeric comparison operators are not enabled, as upstream's default).
func tolerates(t *v1.Toleration, taint *v1.Taint) bool {
	return t.ToleratesTaint(klog.Logger{}, taint, false)
}

func toleratesAny(tolerations []v1.Toleration, taint *v1.Taint) bool {
	for i := range tolerations {
		if tolerates(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// untoleratedTaintReason is upstream's wording for a rejected taint.
func untoleratedTaintReason(t *v1.Taint) string {
	return fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value)
}

// taintToleration rejects nodes with a NoSchedule or NoExecute taint the pod
// does not tolerate, and (as a scorer) prefers nodes with fewer untolerated
// PreferNoSchedule taints.
type taintToleration struct{}

func (taintToleration) id() pluginID { return pluginTaintToleration }

func (taintToleration) preFilter(*cycleState, *podInfo, []*nodeInfo) (bool, *status) {
	return false, nil
}

func (taintToleration) filter(_ *cycleState, p *podInfo, n *nodeInfo) *status {
	taints := n.node.Spec.Taints
	for i := range taints {
		t := &taints[i]
		if t.Effect != v1.TaintEffectNoSchedule && t.Effect != v1.TaintEffectNoExecute {
			continue
		}
		if !toleratesAny(p.pod.Spec.Tolerations, t) {
			return unresolvable(pluginTaintToleration, untoleratedTaintReason(t))
		}
	}
	return nil
}

// taintTolerationScore counts untolerated PreferNoSchedule taints; fewer is better.
type taintTolerationScore struct{}

func (taintTolerationScore) weight() int64 { return 3 }

func (taintTolerationScore) preScore(_ *cycleState, _ *podInfo, nodes []*nodeInfo) bool {
	for _, n := range nodes {
		if n.hasPreferNoSchedule {
			return true
		}
	}
	return false
}

func (taintTolerationScore) score(_ *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64) {
	// Only tolerations that can match PreferNoSchedule count (upstream).
	for i, n := range nodes {
		var count int64
		if n.hasPreferNoSchedule {
			for j := range n.node.Spec.Taints {
				t := &n.node.Spec.Taints[j]
				if t.Effect != v1.TaintEffectPreferNoSchedule {
					continue
				}
				tolerated := false
				for k := range p.pod.Spec.Tolerations {
					tol := &p.pod.Spec.Tolerations[k]
					if (tol.Effect == "" || tol.Effect == v1.TaintEffectPreferNoSchedule) && tolerates(tol, t) {
						tolerated = true
						break
					}
				}
				if !tolerated {
					count++
				}
			}
		}
		scores[i] = count
	}
	defaultNormalize(scores, true)
}
