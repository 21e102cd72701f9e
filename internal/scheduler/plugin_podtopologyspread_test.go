package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func withSpread(maxSkew int32, key string, when v1.UnsatisfiableConstraintAction, app string) podOpt {
	return func(p *v1.Pod) {
		p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, v1.TopologySpreadConstraint{
			MaxSkew: maxSkew, TopologyKey: key, WhenUnsatisfiable: when, LabelSelector: selector("app", app),
		})
	}
}

func TestPodTopologySpread(t *testing.T) {
	web := map[string]string{"app": "web"}
	pods := func(node string, n int) []*v1.Pod {
		var out []*v1.Pod
		for i := 0; i < n; i++ {
			out = append(out, testPod(node+"-"+string(rune('a'+i)), withLabels(web), withNode(node)))
		}
		return out
	}
	tests := []struct {
		name     string
		counts   [3]int // web pods on z1a, z1b (zone 1) and z2a (zone 2)
		pod      *v1.Pod
		target   int
		want     string
		wantCode code
	}{
		{name: "even, any node", counts: [3]int{1, 1, 1}, pod: testPod("p", withLabels(web), withSpread(1, v1.LabelHostname, v1.DoNotSchedule, "web")), target: 0},
		{name: "skew would be 2", counts: [3]int{1, 0, 0}, pod: testPod("p", withLabels(web), withSpread(1, v1.LabelHostname, v1.DoNotSchedule, "web")), target: 0,
			want: errReasonConstraintsNotMatch, wantCode: codeUnschedulable},
		{name: "maxSkew 2 allows", counts: [3]int{1, 0, 0}, pod: testPod("p", withLabels(web), withSpread(2, v1.LabelHostname, v1.DoNotSchedule, "web")), target: 0},
		{name: "pod not matching own selector", counts: [3]int{1, 0, 0}, pod: testPod("p", withSpread(1, v1.LabelHostname, v1.DoNotSchedule, "web")), target: 0},
		{name: "zone skew", counts: [3]int{1, 1, 1}, pod: testPod("p", withLabels(web), withSpread(1, "zone", v1.DoNotSchedule, "web")), target: 0,
			want: errReasonConstraintsNotMatch, wantCode: codeUnschedulable},
		{name: "zone skew, emptier zone", counts: [3]int{1, 1, 1}, pod: testPod("p", withLabels(web), withSpread(1, "zone", v1.DoNotSchedule, "web")), target: 2},
		{name: "missing topology label", pod: testPod("p", withLabels(web), withSpread(1, "rack", v1.DoNotSchedule, "web")), target: 0,
			want: errReasonNodeLabelNotMatch, wantCode: codeUnresolvable},
		{name: "ScheduleAnyway never filters", counts: [3]int{3, 0, 0}, pod: testPod("p", withLabels(web), withSpread(1, v1.LabelHostname, v1.ScheduleAnyway, "web")), target: 0},
		{name: "minDomains above domain count makes min 0", counts: [3]int{1, 1, 1}, pod: func() *v1.Pod {
			p := testPod("p", withLabels(web), withSpread(1, "zone", v1.DoNotSchedule, "web"))
			p.Spec.TopologySpreadConstraints[0].MinDomains = ptr.To[int32](3)
			return p
		}(), target: 2, want: errReasonConstraintsNotMatch, wantCode: codeUnschedulable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes := []*nodeInfo{
				testNodeInfo(testNode("z1a", "4", "8Gi", 110, map[string]string{"zone": "1"}), pods("z1a", tt.counts[0])...),
				testNodeInfo(testNode("z1b", "4", "8Gi", 110, map[string]string{"zone": "1"}), pods("z1b", tt.counts[1])...),
				testNodeInfo(testNode("z2a", "4", "8Gi", 110, map[string]string{"zone": "2"}), pods("z2a", tt.counts[2])...),
			}
			got, c := runFilter(podTopologySpread{}, tt.pod, nodes, nodes[tt.target])
			if got != tt.want || c != tt.wantCode {
				t.Errorf("got %q (code %d), want %q (code %d)", got, c, tt.want, tt.wantCode)
			}
		})
	}
}

func TestPodTopologySpreadScore(t *testing.T) {
	web := map[string]string{"app": "web"}
	nodes := []*nodeInfo{
		testNodeInfo(testNode("n1", "4", "8Gi", 110, nil), testPod("a", withLabels(web), withNode("n1")), testPod("b", withLabels(web), withNode("n1"))),
		testNodeInfo(testNode("n2", "4", "8Gi", 110, nil), testPod("c", withLabels(web), withNode("n2"))),
		testNodeInfo(testNode("n3", "4", "8Gi", 110, nil)),
	}
	p := newPodInfo(testPod("p", withLabels(web), withSpread(1, v1.LabelHostname, v1.ScheduleAnyway, "web")))
	cs := testCycleState(nodes)
	if !(podTopologySpreadScore{}).preScore(cs, p, nodes) {
		t.Fatal("preScore skipped")
	}
	scores := make([]int64, 3)
	podTopologySpreadScore{}.score(cs, p, nodes, scores)
	if !(scores[2] > scores[1] && scores[1] > scores[0]) {
		t.Errorf("scores = %v, want emptier nodes higher", scores)
	}
	if scores[2] != 100 {
		t.Errorf("emptiest node score = %d, want 100", scores[2])
	}
}
