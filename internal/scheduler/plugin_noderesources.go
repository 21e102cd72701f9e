package scheduler

import (
	v1 "k8s.io/api/core/v1"
)

const errReasonTooManyPods = "Too many pods"

// insufficientReasons holds upstream's wording for the common resources so
// that a rejection allocates nothing beyond the reason slice.
var insufficientReasons = map[v1.ResourceName]string{
	v1.ResourceCPU:              "Insufficient cpu",
	v1.ResourceMemory:           "Insufficient memory",
	v1.ResourceEphemeralStorage: "Insufficient ephemeral-storage",
}

func insufficient(name v1.ResourceName) string {
	if r, ok := insufficientReasons[name]; ok {
		return r
	}
	return "Insufficient " + string(name)
}

// nodeResourcesFit rejects nodes whose allocatable minus what their pods
// (bound and assumed) request cannot hold the pod's requests: cpu, memory,
// ephemeral-storage, extended resources, and the pod count.
type nodeResourcesFit struct{}

func (nodeResourcesFit) id() pluginID { return pluginNodeResourcesFit }

func (nodeResourcesFit) preFilter(*cycleState, *podInfo, []*nodeInfo) (bool, *status) {
	return false, nil
}

func (nodeResourcesFit) filter(cs *cycleState, p *podInfo, n *nodeInfo) *status {
	// Pods nominated to this node by preemption, of at least this pod's
	// priority, hold their place: count them as if they ran there.
	var extra nominatedLoad
	if cs != nil && cs.nominated != nil {
		if l := cs.nominated[n.name]; l != nil {
			extra = *l
		}
	}
	var reasons []string
	// A request larger than the whole node can never fit, however many
	// pods are preempted: that makes the failure unresolvable.
	unresolved := false
	if int64(len(n.pods))+extra.pods+1 > n.allocatable.pods {
		reasons = append(reasons, errReasonTooManyPods)
	}
	req := &p.requests
	if req.isZero() {
		return fitStatus(reasons, unresolved)
	}
	alloc, used := &n.allocatable, &n.requested
	check := func(name v1.ResourceName, want, have, inUse int64) {
		if want > 0 && want > have-inUse {
			reasons = append(reasons, insufficient(name))
			if want > have {
				unresolved = true
			}
		}
	}
	check(v1.ResourceCPU, req.milliCPU, alloc.milliCPU, used.milliCPU+extra.res.milliCPU)
	check(v1.ResourceMemory, req.memory, alloc.memory, used.memory+extra.res.memory)
	check(v1.ResourceEphemeralStorage, req.ephemeralStorage, alloc.ephemeralStorage, used.ephemeralStorage+extra.res.ephemeralStorage)
	for name, want := range req.scalar {
		check(name, want, alloc.scalar[name], used.scalar[name]+extra.res.scalar[name])
	}
	return fitStatus(reasons, unresolved)
}

func fitStatus(reasons []string, unresolved bool) *status {
	if len(reasons) == 0 {
		return nil
	}
	if unresolved {
		return unresolvable(pluginNodeResourcesFit, reasons...)
	}
	return unschedulable(pluginNodeResourcesFit, reasons...)
}

// leastAllocated prefers nodes with more free cpu and memory after placing
// the pod (upstream's default NodeResourcesFit scoring strategy), using
// requests with non-zero defaults so best-effort pods spread too.
type leastAllocated struct{}

func (leastAllocated) weight() int64 { return 1 }

func (leastAllocated) preScore(*cycleState, *podInfo, []*nodeInfo) bool { return true }

func (leastAllocated) score(_ *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64) {
	for i, n := range nodes {
		cpu := leastRequestedScore(n.nonZeroCPU+p.nonZeroCPU, n.allocatable.milliCPU)
		mem := leastRequestedScore(n.nonZeroMemory+p.nonZeroMemory, n.allocatable.memory)
		scores[i] = (cpu + mem) / 2
	}
}

func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * maxNodeScore / capacity
}
