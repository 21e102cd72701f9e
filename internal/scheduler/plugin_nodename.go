package scheduler

const errReasonNodeName = "node(s) didn't match the requested node name"

// nodeName keeps a pod that names its node (spec.nodeName) off every other node.
type nodeName struct{}

func (nodeName) id() pluginID { return pluginNodeName }

func (nodeName) preFilter(_ *cycleState, p *podInfo, _ []*nodeInfo) (bool, *status) {
	return p.pod.Spec.NodeName == "", nil
}

func (nodeName) filter(_ *cycleState, p *podInfo, n *nodeInfo) *status {
	if p.pod.Spec.NodeName != n.name {
		return unresolvable(pluginNodeName, errReasonNodeName)
	}
	return nil
}
