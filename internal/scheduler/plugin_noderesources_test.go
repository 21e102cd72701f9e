package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestNodeResourcesFit(t *testing.T) {
	node := testNode("n1", "2", "4Gi", 3, nil)
	node.Status.Allocatable["example.com/gpu"] = resource.MustParse("2")
	node.Status.Allocatable[v1.ResourceEphemeralStorage] = resource.MustParse("10Gi")
	tests := []struct {
		name     string
		existing []*v1.Pod
		pod      *v1.Pod
		want     string
		wantCode code
	}{
		{name: "fits on empty node", pod: testPod("p", withRequests("1", "1Gi"))},
		{name: "best-effort pod fits a full node", existing: []*v1.Pod{testPod("e", withRequests("2", "4Gi"))}, pod: testPod("p")},
		{name: "cpu exhausted", existing: []*v1.Pod{testPod("e1", withRequests("1", "")), testPod("e2", withRequests("1", ""))},
			pod: testPod("p", withRequests("1", "")), want: "Insufficient cpu", wantCode: codeUnschedulable},
		{name: "cpu and memory both short", existing: []*v1.Pod{testPod("e", withRequests("1500m", "3Gi"))},
			pod: testPod("p", withRequests("1", "2Gi")), want: "Insufficient cpu; Insufficient memory", wantCode: codeUnschedulable},
		{name: "larger than the node is unresolvable", pod: testPod("p", withRequests("3", "")), want: "Insufficient cpu", wantCode: codeUnresolvable},
		{name: "pod count", existing: []*v1.Pod{testPod("e1"), testPod("e2"), testPod("e3")}, pod: testPod("p"),
			want: "Too many pods", wantCode: codeUnschedulable},
		{name: "extended resource fits", pod: testPod("p", withResource("example.com/gpu", "2"))},
		{name: "extended resource short", existing: []*v1.Pod{testPod("e", withResource("example.com/gpu", "1"))},
			pod: testPod("p", withResource("example.com/gpu", "2")), want: "Insufficient example.com/gpu", wantCode: codeUnschedulable},
		{name: "unknown extended resource", pod: testPod("p", withResource("vendor.io/fpga", "1")),
			want: "Insufficient vendor.io/fpga", wantCode: codeUnresolvable},
		{name: "ephemeral storage", existing: []*v1.Pod{testPod("e", withResource(v1.ResourceEphemeralStorage, "8Gi"))},
			pod: testPod("p", withResource(v1.ResourceEphemeralStorage, "4Gi")), want: "Insufficient ephemeral-storage", wantCode: codeUnschedulable},
		{name: "init container max counts", pod: func() *v1.Pod {
			p := testPod("p", withRequests("500m", ""))
			p.Spec.InitContainers = []v1.Container{{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2500m")}}}}
			return p
		}(), want: "Insufficient cpu", wantCode: codeUnresolvable},
		{name: "overhead counts", pod: func() *v1.Pod {
			p := testPod("p", withRequests("1800m", ""))
			p.Spec.Overhead = v1.ResourceList{v1.ResourceCPU: resource.MustParse("300m")}
			return p
		}(), want: "Insufficient cpu", wantCode: codeUnresolvable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNodeInfo(node, tt.existing...)
			got, c := runFilter(nodeResourcesFit{}, tt.pod, []*nodeInfo{n}, n)
			if got != tt.want || c != tt.wantCode {
				t.Errorf("got %q (code %d), want %q (code %d)", got, c, tt.want, tt.wantCode)
			}
		})
	}
}

func TestLeastAllocatedAndBalanced(t *testing.T) {
	empty := testNodeInfo(testNode("empty", "4", "8Gi", 110, nil))
	busy := testNodeInfo(testNode("busy", "4", "8Gi", 110, nil), testPod("e", withRequests("3", "2Gi")))
	pod := newPodInfo(testPod("p", withRequests("1", "2Gi")))
	nodes := []*nodeInfo{empty, busy}
	scores := make([]int64, 2)
	leastAllocated{}.score(nil, pod, nodes, scores)
	// empty: cpu (4-1)/4=75, mem (8-2)/8=75 -> 75; busy: cpu 0, mem (8-4)/8=50 -> 25
	if scores[0] != 75 || scores[1] != 25 {
		t.Errorf("leastAllocated = %v, want [75 25]", scores)
	}
	balancedAllocation{}.score(nil, pod, nodes, scores)
	// empty: cpu .25 mem .25 -> 100; busy: cpu 1, mem .5 -> 75
	if scores[0] != 100 || scores[1] != 75 {
		t.Errorf("balancedAllocation = %v, want [100 75]", scores)
	}
	// Best-effort pods are scored with 100m / 200Mi defaults.
	be := newPodInfo(testPod("be"))
	if be.nonZeroCPU != 100 || be.nonZeroMemory != 200*1024*1024 {
		t.Errorf("non-zero defaults = %d, %d", be.nonZeroCPU, be.nonZeroMemory)
	}
}
