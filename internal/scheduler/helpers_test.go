package scheduler

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// testNode builds a ready node with the given capacity.
func testNode(name, cpu, memory string, pods int64, lbls map[string]string, taints ...v1.Taint) *v1.Node {
	l := map[string]string{v1.LabelHostname: name}
	for k, v := range lbls {
		l[k] = v
	}
	alloc := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse(cpu),
		v1.ResourceMemory: resource.MustParse(memory),
		v1.ResourcePods:   *resource.NewQuantity(pods, resource.DecimalSI),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("node-" + name), Labels: l},
		Spec:       v1.NodeSpec{Taints: taints},
		Status: v1.NodeStatus{
			Capacity:    alloc,
			Allocatable: alloc,
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

type podOpt func(*v1.Pod)

func testPod(name string, opts ...podOpt) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), ResourceVersion: "1"},
		Spec: v1.PodSpec{
			SchedulerName: DefaultSchedulerName,
			Containers:    []v1.Container{{Name: "c", Image: "busybox"}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func withRequests(cpu, memory string) podOpt {
	return func(p *v1.Pod) {
		rl := v1.ResourceList{}
		if cpu != "" {
			rl[v1.ResourceCPU] = resource.MustParse(cpu)
		}
		if memory != "" {
			rl[v1.ResourceMemory] = resource.MustParse(memory)
		}
		p.Spec.Containers[0].Resources.Requests = rl
	}
}

func withResource(name v1.ResourceName, q string) podOpt {
	return func(p *v1.Pod) {
		if p.Spec.Containers[0].Resources.Requests == nil {
			p.Spec.Containers[0].Resources.Requests = v1.ResourceList{}
		}
		p.Spec.Containers[0].Resources.Requests[name] = resource.MustParse(q)
	}
}

func withLabels(l map[string]string) podOpt {
	return func(p *v1.Pod) { p.Labels = l }
}

func withNode(n string) podOpt {
	return func(p *v1.Pod) { p.Spec.NodeName = n }
}

func withNamespace(ns string) podOpt {
	return func(p *v1.Pod) { p.Namespace = ns }
}

func withPriority(prio int32) podOpt {
	return func(p *v1.Pod) { p.Spec.Priority = &prio }
}

func withTolerations(t ...v1.Toleration) podOpt {
	return func(p *v1.Pod) { p.Spec.Tolerations = t }
}

func withOwner(uid string) podOpt {
	return func(p *v1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: types.UID(uid), Controller: &yes}}
	}
}

func withAffinity(a *v1.Affinity) podOpt {
	return func(p *v1.Pod) { p.Spec.Affinity = a }
}

func withHostPort(port int32, protocol v1.Protocol, ip string) podOpt {
	return func(p *v1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, v1.ContainerPort{ContainerPort: port, HostPort: port, Protocol: protocol, HostIP: ip})
	}
}

// testNodeInfo builds a nodeInfo holding the given pods.
func testNodeInfo(node *v1.Node, pods ...*v1.Pod) *nodeInfo {
	n := &nodeInfo{}
	n.setNode(node)
	for _, p := range pods {
		n.addPod(newPodInfo(p))
	}
	return n
}

func testCycleState(nodes []*nodeInfo) *cycleState {
	var withAffinity, withAnti bool
	for _, n := range nodes {
		withAffinity = withAffinity || n.podsWithAffinity > 0
		withAnti = withAnti || n.podsWithRequiredAntiAffinity > 0
	}
	return &cycleState{
		anyPodWithAffinity:             withAffinity,
		anyPodWithRequiredAntiAffinity: withAnti,
		allNodes:                       nodes,
		nsLabels:                       func(ns string) labels.Set { return labels.Set{"name": ns} },
	}
}

// runFilter runs one plugin's preFilter over nodes and its filter on target;
// "" means the node passed (or the plugin does not apply).
func runFilter(f filter, p *v1.Pod, nodes []*nodeInfo, target *nodeInfo) (string, code) {
	pi := newPodInfo(p)
	cs := testCycleState(nodes)
	skip, st := f.preFilter(cs, pi, nodes)
	if st != nil {
		return st.reasons[0], st.code
	}
	if skip {
		return "", 0
	}
	st = f.filter(cs, pi, target)
	if st == nil {
		return "", 0
	}
	r := st.reasons[0]
	for _, x := range st.reasons[1:] {
		r += "; " + x
	}
	return r, st.code
}

func selector(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func fakeFactory() informers.SharedInformerFactory {
	return informers.NewSharedInformerFactory(fake.NewSimpleClientset(), 0)
}
