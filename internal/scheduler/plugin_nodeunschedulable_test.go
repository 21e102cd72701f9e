package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestNodeUnschedulableAndReadiness(t *testing.T) {
	cordoned := testNode("n", "1", "1Gi", 10, nil)
	cordoned.Spec.Unschedulable = true
	notReady := testNode("n", "1", "1Gi", 10, nil)
	notReady.Status.Conditions[0].Status = v1.ConditionFalse
	unknown := testNode("n", "1", "1Gi", 10, nil)
	unknown.Status.Conditions[0].Status = v1.ConditionUnknown
	taintedUnknown := unknown.DeepCopy()
	taintedUnknown.Spec.Taints = []v1.Taint{{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute}}

	tolerateUnschedulable := v1.Toleration{Key: v1.TaintNodeUnschedulable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoSchedule}
	tolerateNotReady := v1.Toleration{Key: v1.TaintNodeNotReady, Operator: v1.TolerationOpExists}
	tests := []struct {
		name   string
		plugin filter
		node   *v1.Node
		tols   []v1.Toleration
		want   string
	}{
		{name: "schedulable node", plugin: nodeUnschedulable{}, node: testNode("n", "1", "1Gi", 10, nil)},
		{name: "cordoned node", plugin: nodeUnschedulable{}, node: cordoned, want: "node(s) were unschedulable"},
		{name: "cordoned node tolerated", plugin: nodeUnschedulable{}, node: cordoned, tols: []v1.Toleration{tolerateUnschedulable}},
		{name: "ready node", plugin: nodeReadiness{}, node: testNode("n", "1", "1Gi", 10, nil)},
		{name: "not ready node", plugin: nodeReadiness{}, node: notReady, want: "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
		{name: "not ready tolerated", plugin: nodeReadiness{}, node: notReady, tols: []v1.Toleration{tolerateNotReady}},
		{name: "unknown node", plugin: nodeReadiness{}, node: unknown, want: "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"},
		{name: "already tainted is left to the taint plugin", plugin: nodeReadiness{}, node: taintedUnknown},
		{name: "node name mismatch", plugin: nodeName{}, node: testNode("other", "1", "1Gi", 10, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNodeInfo(tt.node)
			got, _ := runFilter(tt.plugin, testPod("p", withTolerations(tt.tols...)), []*nodeInfo{n}, n)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNodeName(t *testing.T) {
	n := testNodeInfo(testNode("n1", "1", "1Gi", 10, nil))
	if got, _ := runFilter(nodeName{}, testPod("p", withNode("n2")), []*nodeInfo{n}, n); got != "node(s) didn't match the requested node name" {
		t.Errorf("got %q", got)
	}
	if got, _ := runFilter(nodeName{}, testPod("p", withNode("n1")), []*nodeInfo{n}, n); got != "" {
		t.Errorf("got %q", got)
	}
}
