package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func podAffinity(required bool, anti bool, topologyKey string, sel *metav1.LabelSelector) *v1.Affinity {
	term := v1.PodAffinityTerm{LabelSelector: sel, TopologyKey: topologyKey}
	a := &v1.Affinity{}
	switch {
	case anti && required:
		a.PodAntiAffinity = &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{term}}
	case anti:
		a.PodAntiAffinity = &v1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: term}}}
	case required:
		a.PodAffinity = &v1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{term}}
	default:
		a.PodAffinity = &v1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: term}}}
	}
	return a
}

func TestInterPodAffinity(t *testing.T) {
	const (
		affReason      = "node(s) didn't match pod affinity rules"
		antiReason     = "node(s) didn't match pod anti-affinity rules"
		existingReason = "node(s) didn't satisfy existing pods anti-affinity rules"
	)
	zoneA := map[string]string{"zone": "a"}
	zoneB := map[string]string{"zone": "b"}
	web := map[string]string{"app": "web"}
	db := map[string]string{"app": "db"}
	tests := []struct {
		name string
		// pods on node a1 (zone a); node b1 (zone b) is the target unless targetA.
		onA     []*v1.Pod
		onB     []*v1.Pod
		pod     *v1.Pod
		targetA bool
		want    string
		code    code
	}{
		{name: "no affinity anywhere", pod: testPod("p")},
		{name: "anti-affinity hostname, other node has it", onA: []*v1.Pod{testPod("w1", withLabels(web))},
			pod: testPod("p", withLabels(web), withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "web"))))},
		{name: "anti-affinity hostname, same node", onB: []*v1.Pod{testPod("w1", withLabels(web))},
			pod:  testPod("p", withLabels(web), withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "web")))),
			want: antiReason, code: codeUnschedulable},
		{name: "anti-affinity zone covers other node in zone", onA: []*v1.Pod{testPod("w1", withLabels(web))}, targetA: true,
			pod:  testPod("p", withAffinity(podAffinity(true, true, "zone", selector("app", "web")))),
			want: antiReason, code: codeUnschedulable},
		{name: "anti-affinity other namespace does not count", onB: []*v1.Pod{testPod("w1", withLabels(web), withNamespace("other"))},
			pod: testPod("p", withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "web"))))},
		{name: "existing pod's anti-affinity rejects", onB: []*v1.Pod{testPod("w1", withLabels(web), withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "db"))))},
			pod: testPod("p", withLabels(db)), want: existingReason, code: codeUnschedulable},
		{name: "existing pod's anti-affinity elsewhere", onA: []*v1.Pod{testPod("w1", withLabels(web), withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "db"))))},
			pod: testPod("p", withLabels(db))},
		{name: "affinity satisfied in zone", onA: []*v1.Pod{testPod("d1", withLabels(db))}, targetA: true,
			pod: testPod("p", withAffinity(podAffinity(true, false, "zone", selector("app", "db"))))},
		{name: "affinity not satisfied in other zone", onA: []*v1.Pod{testPod("d1", withLabels(db))},
			pod:  testPod("p", withAffinity(podAffinity(true, false, "zone", selector("app", "db")))),
			want: affReason, code: codeUnresolvable},
		{name: "affinity with no matching pod anywhere", pod: testPod("p", withAffinity(podAffinity(true, false, "zone", selector("app", "db")))),
			want: affReason, code: codeUnresolvable},
		{name: "first pod of a self-affine group", pod: testPod("p", withLabels(db), withAffinity(podAffinity(true, false, "zone", selector("app", "db"))))},
		{name: "affinity topology key missing on node", onA: []*v1.Pod{testPod("d1", withLabels(db))},
			pod:  testPod("p", withAffinity(podAffinity(true, false, "rack", selector("app", "db")))),
			want: affReason, code: codeUnresolvable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testNodeInfo(testNode("a1", "4", "8Gi", 110, zoneA), withNodes(tt.onA, "a1")...)
			b := testNodeInfo(testNode("b1", "4", "8Gi", 110, zoneB), withNodes(tt.onB, "b1")...)
			target := b
			if tt.targetA {
				target = a
			}
			got, c := runFilter(interPodAffinity{}, tt.pod, []*nodeInfo{a, b}, target)
			if got != tt.want || c != tt.code {
				t.Errorf("got %q (code %d), want %q (code %d)", got, c, tt.want, tt.code)
			}
		})
	}
}

func withNodes(pods []*v1.Pod, node string) []*v1.Pod {
	for _, p := range pods {
		p.Spec.NodeName = node
	}
	return pods
}

func TestInterPodAffinityNamespaceSelector(t *testing.T) {
	a := testNodeInfo(testNode("a1", "4", "8Gi", 110, nil), testPod("w", withNamespace("team-x"), withLabels(map[string]string{"app": "web"}), withNode("a1")))
	aff := podAffinity(true, true, v1.LabelHostname, selector("app", "web"))
	aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = selector("name", "team-x")
	got, _ := runFilter(interPodAffinity{}, testPod("p", withAffinity(aff)), []*nodeInfo{a}, a)
	if got != "node(s) didn't match pod anti-affinity rules" {
		t.Errorf("got %q", got)
	}
	aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].NamespaceSelector = selector("name", "team-y")
	if got, _ := runFilter(interPodAffinity{}, testPod("p", withAffinity(aff)), []*nodeInfo{a}, a); got != "" {
		t.Errorf("got %q, want pass", got)
	}
}

func TestInterPodAffinityScore(t *testing.T) {
	web := map[string]string{"app": "web"}
	a := testNodeInfo(testNode("a1", "4", "8Gi", 110, nil), testPod("w", withLabels(web), withNode("a1")))
	b := testNodeInfo(testNode("b1", "4", "8Gi", 110, nil))
	nodes := []*nodeInfo{a, b}
	scores := make([]int64, 2)
	for _, tt := range []struct {
		name string
		anti bool
		want []int64
	}{
		{name: "preferred affinity pulls", want: []int64{100, 0}},
		{name: "preferred anti-affinity pushes", anti: true, want: []int64{0, 100}},
	} {
		p := newPodInfo(testPod("p", withAffinity(podAffinity(false, tt.anti, v1.LabelHostname, selector("app", "web")))))
		cs := testCycleState(nodes)
		if !(interPodAffinityScore{}).preScore(cs, p, nodes) {
			t.Fatalf("%s: preScore skipped", tt.name)
		}
		interPodAffinityScore{}.score(cs, p, nodes, scores)
		if scores[0] != tt.want[0] || scores[1] != tt.want[1] {
			t.Errorf("%s: scores = %v, want %v", tt.name, scores, tt.want)
		}
	}
	// An existing pod's required affinity to the incoming pod attracts it.
	c := testNodeInfo(testNode("c1", "4", "8Gi", 110, nil), testPod("x", withNode("c1"), withAffinity(podAffinity(true, false, v1.LabelHostname, selector("app", "web")))))
	nodes = []*nodeInfo{b, c}
	cs := testCycleState(nodes)
	p := newPodInfo(testPod("p", withLabels(web)))
	if !(interPodAffinityScore{}).preScore(cs, p, nodes) {
		t.Fatal("preScore skipped existing pods' affinity")
	}
	interPodAffinityScore{}.score(cs, p, nodes, scores)
	if scores[0] != 0 || scores[1] != 100 {
		t.Errorf("scores = %v, want [0 100]", scores)
	}
}
