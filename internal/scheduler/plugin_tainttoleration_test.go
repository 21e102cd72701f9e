package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestTaintToleration(t *testing.T) {
	noSched := v1.Taint{Key: "dedicated", Value: "gpu", Effect: v1.TaintEffectNoSchedule}
	noExec := v1.Taint{Key: "node.kubernetes.io/unreachable", Effect: v1.TaintEffectNoExecute}
	prefer := v1.Taint{Key: "soft", Value: "x", Effect: v1.TaintEffectPreferNoSchedule}
	tests := []struct {
		name   string
		taints []v1.Taint
		tols   []v1.Toleration
		want   string
	}{
		{name: "no taints"},
		{name: "untolerated NoSchedule", taints: []v1.Taint{noSched}, want: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "untolerated NoExecute", taints: []v1.Taint{noExec}, want: "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
		{name: "PreferNoSchedule does not filter", taints: []v1.Taint{prefer}},
		{name: "tolerated by Equal", taints: []v1.Taint{noSched},
			tols: []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "gpu", Effect: v1.TaintEffectNoSchedule}}},
		{name: "wrong value", taints: []v1.Taint{noSched},
			tols: []v1.Toleration{{Key: "dedicated", Value: "cpu"}}, want: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "tolerated by Exists without effect", taints: []v1.Taint{noSched, noExec},
			tols: []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists}, {Operator: v1.TolerationOpExists, Key: "node.kubernetes.io/unreachable"}}},
		{name: "effect mismatch", taints: []v1.Taint{noSched},
			tols: []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}}, want: "node(s) had untolerated taint {dedicated: gpu}"},
		{name: "tolerate everything", taints: []v1.Taint{noSched, noExec}, tols: []v1.Toleration{{Operator: v1.TolerationOpExists}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNodeInfo(testNode("n1", "1", "1Gi", 10, nil, tt.taints...))
			got, c := runFilter(taintToleration{}, testPod("p", withTolerations(tt.tols...)), []*nodeInfo{n}, n)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if got != "" && c != codeUnresolvable {
				t.Errorf("code = %d, want unresolvable", c)
			}
		})
	}
}

func TestTaintTolerationScore(t *testing.T) {
	prefer := func(k string) v1.Taint { return v1.Taint{Key: k, Effect: v1.TaintEffectPreferNoSchedule} }
	nodes := []*nodeInfo{
		testNodeInfo(testNode("clean", "1", "1Gi", 10, nil)),
		testNodeInfo(testNode("one", "1", "1Gi", 10, nil, prefer("a"))),
		testNodeInfo(testNode("two", "1", "1Gi", 10, nil, prefer("a"), prefer("b"))),
	}
	scores := make([]int64, 3)
	p := newPodInfo(testPod("p"))
	if !(taintTolerationScore{}).preScore(nil, p, nodes) {
		t.Fatal("preScore skipped nodes with PreferNoSchedule taints")
	}
	taintTolerationScore{}.score(nil, p, nodes, scores)
	if scores[0] != 100 || scores[1] != 50 || scores[2] != 0 {
		t.Errorf("scores = %v, want [100 50 0]", scores)
	}
	tolerant := newPodInfo(testPod("p", withTolerations(v1.Toleration{Key: "a", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectPreferNoSchedule})))
	taintTolerationScore{}.score(nil, tolerant, nodes, scores)
	if scores[0] != 100 || scores[1] != 100 || scores[2] != 0 {
		t.Errorf("tolerant scores = %v, want [100 100 0]", scores)
	}
}
