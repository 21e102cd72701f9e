package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestSelectorSpread(t *testing.T) {
	tests := []struct {
		name   string
		counts []int // replicas of the owner already on each node
		zones  []string
		want   []int64
	}{
		{name: "no replicas yet", counts: []int{0, 0}, want: []int64{100, 100}},
		{name: "fewer replicas score higher", counts: []int{2, 1, 0}, want: []int64{0, 50, 100}},
		// Node scores 0,100,100 blended with zone scores (zone a: 2, zone b: 0 -> 0, 0, 100);
		// float rounding gives 99 for the last, as upstream.
		{name: "zones weigh two thirds", counts: []int{2, 0, 0}, zones: []string{"a", "a", "b"}, want: []int64{0, 33, 99}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var nodes []*nodeInfo
			for i, c := range tt.counts {
				name := string(rune('a' + i))
				lbls := map[string]string{}
				if tt.zones != nil {
					lbls[v1.LabelTopologyZone] = tt.zones[i]
				}
				var pods []*v1.Pod
				for j := 0; j < c; j++ {
					pods = append(pods, testPod(name+string(rune('0'+j)), withOwner("rs-1"), withNode(name)))
				}
				pods = append(pods, testPod(name+"-other", withOwner("rs-2"), withNode(name)))
				nodes = append(nodes, testNodeInfo(testNode(name, "4", "8Gi", 110, lbls), pods...))
			}
			p := newPodInfo(testPod("p", withOwner("rs-1")))
			if !(selectorSpread{}).preScore(nil, p, nodes) {
				t.Fatal("preScore skipped an owned pod")
			}
			scores := make([]int64, len(nodes))
			selectorSpread{}.score(nil, p, nodes, scores)
			for i := range scores {
				if scores[i] != tt.want[i] {
					t.Fatalf("scores = %v, want %v", scores, tt.want)
				}
			}
		})
	}
	if (selectorSpread{}).preScore(nil, newPodInfo(testPod("bare")), nil) {
		t.Error("preScore ran for a pod without controller")
	}
}
