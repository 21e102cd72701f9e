package scheduler

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// benchCluster builds nodes with pods of 100 owners spread over them.
func benchCluster(numNodes, podsPerNode int, opts ...podOpt) []*nodeInfo {
	nodes := make([]*nodeInfo, numNodes)
	for i := range nodes {
		name := fmt.Sprintf("node-%d", i)
		nodes[i] = testNodeInfo(testNode(name, "32", "128Gi", 110, nil))
		for j := 0; j < podsPerNode; j++ {
			k := i*podsPerNode + j
			o := append([]podOpt{withRequests("100m", "128Mi"), withNode(name), withOwner(fmt.Sprintf("rs-%d", k%100)),
				withLabels(map[string]string{"app": fmt.Sprintf("app-%d", k%100)})}, opts...)
			nodes[i].addPod(newPodInfo(testPod(fmt.Sprintf("p-%d", k), o...)))
		}
	}
	return nodes
}

func benchmarkSchedule(b *testing.B, pod *v1.Pod, nodes []*nodeInfo) {
	s := New(nil, fakeFactory(), Options{})
	s.cache.nodeList = nodes
	pi := newPodInfo(pod)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n, _, _ := s.schedulePod(pi); n == nil {
			b.Fatal("no node")
		}
	}
}

func BenchmarkSchedulePlain(b *testing.B) {
	benchmarkSchedule(b, testPod("new", withRequests("100m", "128Mi"), withOwner("rs-1")), benchCluster(1000, 10))
}

func BenchmarkSchedulePreferredAntiAffinity(b *testing.B) {
	benchmarkSchedule(b, testPod("new", withRequests("100m", "128Mi"), withOwner("rs-1"), withLabels(map[string]string{"app": "app-1"}),
		withAffinity(podAffinity(false, true, v1.LabelHostname, selector("app", "app-1")))), benchCluster(1000, 10))
}

func BenchmarkScheduleRequiredAntiAffinity(b *testing.B) {
	benchmarkSchedule(b, testPod("new", withRequests("100m", "128Mi"), withOwner("rs-1"), withLabels(map[string]string{"app": "app-x"}),
		withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "app-x")))), benchCluster(1000, 10))
}

func BenchmarkScheduleSpread(b *testing.B) {
	p := testPod("new", withRequests("100m", "128Mi"), withOwner("rs-1"), withLabels(map[string]string{"app": "app-1"}),
		withSpread(5, v1.LabelHostname, v1.DoNotSchedule, "app-1"), withSpread(1, v1.LabelHostname, v1.ScheduleAnyway, "app-1"))
	benchmarkSchedule(b, p, benchCluster(1000, 10))
}
