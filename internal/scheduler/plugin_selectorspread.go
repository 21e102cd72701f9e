package scheduler

import (
	v1 "k8s.io/api/core/v1"
)

// zoneWeighting is how much spreading across zones counts against spreading
// across nodes when nodes carry zone labels (upstream SelectorSpread's 2/3).
const zoneWeighting = 2.0 / 3.0

// zoneKey identifies a node's failure domain from its region and zone labels.
func zoneKey(node *v1.Node) string {
	region := node.Labels[v1.LabelTopologyRegion]
	zone := node.Labels[v1.LabelTopologyZone]
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// selectorSpread spreads the replicas of one controller (ReplicaSet,
// StatefulSet, Job, ...) over nodes and zones: fewer pods of the same owner
// on a node (and in its zone) score higher. It plays the part of upstream's
// default topology spreading for pods without explicit constraints;
// replicas are recognised by their controller reference, counted per node
// in the cache, so scoring a node is one map lookup.
type selectorSpread struct{}

func (selectorSpread) weight() int64 { return 2 }

func (selectorSpread) preScore(_ *cycleState, p *podInfo, _ []*nodeInfo) bool {
	return p.controllerUID != "" && len(p.pod.Spec.TopologySpreadConstraints) == 0
}

func (selectorSpread) score(_ *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64) {
	var maxNode int64
	haveZones := false
	for i, n := range nodes {
		scores[i] = int64(n.ownerCounts[p.controllerUID])
		if scores[i] > maxNode {
			maxNode = scores[i]
		}
		if n.zone != "" {
			haveZones = true
		}
	}
	var zoneCounts map[string]int64
	var maxZone int64
	if haveZones {
		zoneCounts = make(map[string]int64)
		for i, n := range nodes {
			if n.zone != "" {
				zoneCounts[n.zone] += scores[i]
			}
		}
		for _, c := range zoneCounts {
			if c > maxZone {
				maxZone = c
			}
		}
	}
	for i, n := range nodes {
		f := float64(maxNodeScore)
		if maxNode > 0 {
			f = float64(maxNodeScore) * float64(maxNode-scores[i]) / float64(maxNode)
		}
		if haveZones && n.zone != "" {
			z := float64(maxNodeScore)
			if maxZone > 0 {
				z = float64(maxNodeScore) * float64(maxZone-zoneCounts[n.zone]) / float64(maxZone)
			}
			f = f*(1-zoneWeighting) + z*zoneWeighting
		}
		scores[i] = int64(f)
	}
}
