package scheduler

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestPreemptionPlans(t *testing.T) {
	web := map[string]string{"app": "web"}
	tests := []struct {
		name        string
		nodes       []*v1.Node
		pods        []*v1.Pod // bound pods
		pod         *v1.Pod
		wantNode    string
		wantVictims []string
		wantMsg     string // postFilter message when no plan
	}{
		{
			name:  "evicts the lowest priority pod that frees enough",
			nodes: []*v1.Node{testNode("n1", "2", "4Gi", 110, nil)},
			pods: []*v1.Pod{
				testPod("a", withNode("n1"), withRequests("1", ""), withPriority(5)),
				testPod("b", withNode("n1"), withRequests("1", ""), withPriority(1)),
			},
			pod:         testPod("p", withRequests("1", ""), withPriority(10)),
			wantNode:    "n1",
			wantVictims: []string{"b"},
		},
		{
			name: "prefers the node with lower-priority victims",
			nodes: []*v1.Node{
				testNode("n1", "1", "4Gi", 110, nil),
				testNode("n2", "1", "4Gi", 110, nil),
			},
			pods: []*v1.Pod{
				testPod("a", withNode("n1"), withRequests("1", ""), withPriority(5)),
				testPod("b", withNode("n2"), withRequests("1", ""), withPriority(1)),
			},
			pod:         testPod("p", withRequests("1", ""), withPriority(10)),
			wantNode:    "n2",
			wantVictims: []string{"b"},
		},
		{
			name:  "anti-affinity to a lower priority pod",
			nodes: []*v1.Node{testNode("n1", "4", "4Gi", 110, nil)},
			pods:  []*v1.Pod{testPod("w", withNode("n1"), withLabels(web), withPriority(0))},
			pod: testPod("p", withPriority(10),
				withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "web")))),
			wantNode:    "n1",
			wantVictims: []string{"w"},
		},
		{
			name:    "equal priority pods are not victims",
			nodes:   []*v1.Node{testNode("n1", "1", "4Gi", 110, nil)},
			pods:    []*v1.Pod{testPod("a", withNode("n1"), withRequests("1", ""))},
			pod:     testPod("p", withRequests("1", "")),
			wantMsg: "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name:    "larger than any node",
			nodes:   []*v1.Node{testNode("n1", "1", "4Gi", 110, nil)},
			pods:    []*v1.Pod{testPod("a", withNode("n1"), withRequests("1", ""))},
			pod:     testPod("p", withRequests("2", ""), withPriority(10)),
			wantMsg: "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(nil, fakeFactory(), Options{})
			for _, n := range tt.nodes {
				s.cache.addNode(n)
			}
			for _, p := range tt.pods {
				s.cache.addPod(p)
			}
			host, diag, plan := s.schedulePod(newPodInfo(tt.pod))
			if host != nil {
				t.Fatalf("pod fits on %s; the test wants a full cluster", host.name)
			}
			if tt.wantNode == "" {
				if plan != nil {
					t.Fatalf("unexpected plan %+v", plan)
				}
				if diag.postFilter != tt.wantMsg {
					t.Errorf("postFilter = %q, want %q", diag.postFilter, tt.wantMsg)
				}
				return
			}
			if plan == nil {
				t.Fatalf("no plan: %s", diag.message())
			}
			var victims []string
			for _, v := range plan.victims {
				victims = append(victims, v.Name)
			}
			if plan.node != tt.wantNode || strings.Join(victims, ",") != strings.Join(tt.wantVictims, ",") {
				t.Errorf("plan = %s %v, want %s %v", plan.node, victims, tt.wantNode, tt.wantVictims)
			}
		})
	}
}

func TestNominatedPodsHoldTheirPlace(t *testing.T) {
	s := New(nil, fakeFactory(), Options{})
	s.cache.addNode(testNode("n1", "2", "4Gi", 110, nil))
	s.nominator.set(newPodInfo(testPod("nominated", withRequests("1500m", ""), withPriority(10))), "n1")
	// A lower-priority pod must not take the room held for the nominated one.
	if host, _, _ := s.schedulePod(newPodInfo(testPod("low", withRequests("1", ""), withPriority(5)))); host != nil {
		t.Errorf("lower priority pod placed on %s", host.name)
	}
	// A higher-priority pod may.
	if host, _, _ := s.schedulePod(newPodInfo(testPod("high", withRequests("1", ""), withPriority(50)))); host == nil {
		t.Error("higher priority pod not placed")
	}
}
