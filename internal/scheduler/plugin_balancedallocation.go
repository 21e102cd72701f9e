package scheduler

import "math"

// balancedAllocation prefers nodes where cpu and memory would be used in
// similar proportions after placing the pod: score = (1 - |fcpu - fmem| / 2) * 100,
// the two-resource case of upstream's standard-deviation formula.
type balancedAllocation struct{}

func (balancedAllocation) weight() int64 { return 1 }

func (balancedAllocation) preScore(*cycleState, *podInfo, []*nodeInfo) bool { return true }

func (balancedAllocation) score(_ *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64) {
	for i, n := range nodes {
		scores[i] = balancedScore(
			n.requested.milliCPU+p.requests.milliCPU, n.allocatable.milliCPU,
			n.requested.memory+p.requests.memory, n.allocatable.memory)
	}
}

func balancedScore(cpuReq, cpuAlloc, memReq, memAlloc int64) int64 {
	var fractions [2]float64
	k := 0
	if cpuAlloc > 0 {
		fractions[k] = math.Min(float64(cpuReq)/float64(cpuAlloc), 1)
		k++
	}
	if memAlloc > 0 {
		fractions[k] = math.Min(float64(memReq)/float64(memAlloc), 1)
		k++
	}
	std := 0.0
	if k == 2 {
		std = math.Abs(fractions[0]-fractions[1]) / 2
	}
	return int64((1 - std) * float64(maxNodeScore))
}
