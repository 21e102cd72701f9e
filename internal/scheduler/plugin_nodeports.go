package scheduler

const errReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// nodePorts rejects nodes where a requested hostPort (protocol, port, IP) is
// taken; 0.0.0.0 conflicts with every address.
type nodePorts struct{}

func (nodePorts) id() pluginID { return pluginNodePorts }

func (nodePorts) preFilter(_ *cycleState, p *podInfo, _ []*nodeInfo) (bool, *status) {
	return len(p.hostPorts) == 0, nil
}

func (nodePorts) filter(_ *cycleState, p *podInfo, n *nodeInfo) *status {
	for _, want := range p.hostPorts {
		for _, used := range n.usedPorts {
			if want.conflicts(used) {
				return unschedulable(pluginNodePorts, errReasonNodePorts)
			}
		}
	}
	return nil
}
