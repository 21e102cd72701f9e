package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestNodeAffinity(t *testing.T) {
	node := testNode("n1", "1", "1Gi", 10, map[string]string{"disktype": "ssd", "zone": "a"})
	required := func(key string, op v1.NodeSelectorOperator, values ...string) *v1.Affinity {
		return &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
			NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}},
		}}}
	}
	const reason = "node(s) didn't match Pod's node affinity/selector"
	tests := []struct {
		name     string
		selector map[string]string
		affinity *v1.Affinity
		want     string
	}{
		{name: "no constraints"},
		{name: "nodeSelector matches", selector: map[string]string{"disktype": "ssd"}},
		{name: "nodeSelector mismatch", selector: map[string]string{"disktype": "hdd"}, want: reason},
		{name: "affinity In", affinity: required("zone", v1.NodeSelectorOpIn, "a", "b")},
		{name: "affinity NotIn", affinity: required("zone", v1.NodeSelectorOpNotIn, "a"), want: reason},
		{name: "affinity DoesNotExist", affinity: required("gpu", v1.NodeSelectorOpDoesNotExist)},
		{name: "selector and affinity both needed", selector: map[string]string{"disktype": "hdd"}, affinity: required("zone", v1.NodeSelectorOpIn, "a"), want: reason},
		{name: "metadata.name field", affinity: &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
			NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{{Key: "metadata.name", Operator: v1.NodeSelectorOpIn, Values: []string{"n2"}}}}},
		}}}, want: reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNodeInfo(node)
			pod := testPod("p", withAffinity(tt.affinity))
			pod.Spec.NodeSelector = tt.selector
			got, c := runFilter(nodeAffinity{}, pod, []*nodeInfo{n}, n)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got != "" && c != codeUnresolvable {
				t.Errorf("code %d, want unresolvable", c)
			}
		})
	}
}

func TestNodeAffinityScore(t *testing.T) {
	nodes := []*nodeInfo{
		testNodeInfo(testNode("ssd", "1", "1Gi", 10, map[string]string{"disktype": "ssd"})),
		testNodeInfo(testNode("hdd", "1", "1Gi", 10, map[string]string{"disktype": "hdd"})),
		testNodeInfo(testNode("both", "1", "1Gi", 10, map[string]string{"disktype": "ssd", "fast": "yes"})),
	}
	term := func(w int32, k, v string) v1.PreferredSchedulingTerm {
		return v1.PreferredSchedulingTerm{Weight: w, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{{Key: k, Operator: v1.NodeSelectorOpIn, Values: []string{v}}}}}
	}
	p := newPodInfo(testPod("p", withAffinity(&v1.Affinity{NodeAffinity: &v1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{term(30, "disktype", "ssd"), term(10, "fast", "yes")},
	}})))
	scores := make([]int64, 3)
	if !(nodeAffinityScore{}).preScore(nil, p, nodes) {
		t.Fatal("preScore skipped")
	}
	nodeAffinityScore{}.score(nil, p, nodes, scores)
	if scores[0] != 75 || scores[1] != 0 || scores[2] != 100 {
		t.Errorf("scores = %v, want [75 0 100]", scores)
	}
}
