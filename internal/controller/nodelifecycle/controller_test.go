package nodelifecycle

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	clock   *testingclock.FakeClock
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := testingclock.NewFakeClock(t0)
	f := &fixture{c: New(client, factory, Options{GracePeriod: 10 * time.Second, Clock: clk}), client: client, factory: factory, clock: clk}
	f.refresh(t)
	return f
}

// refresh copies the fake API's nodes, leases and pods into the informer caches, as watches would.
func (f *fixture) refresh(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	nodes, _ := f.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	for i := range nodes.Items {
		_ = f.factory.Core().V1().Nodes().Informer().GetIndexer().Update(&nodes.Items[i])
	}
	leases, _ := f.client.CoordinationV1().Leases(LeaseNamespace).List(ctx, metav1.ListOptions{})
	for i := range leases.Items {
		_ = f.factory.Coordination().V1().Leases().Informer().GetIndexer().Update(&leases.Items[i])
	}
	idx := f.factory.Core().V1().Pods().Informer().GetIndexer()
	for _, o := range idx.List() {
		_ = idx.Delete(o)
	}
	pods, _ := f.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	for i := range pods.Items {
		_ = idx.Add(&pods.Items[i])
	}
}

func (f *fixture) node(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := f.client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) syncNode(t *testing.T, name string) {
	t.Helper()
	if err := f.c.syncNode(context.Background(), name); err != nil {
		t.Fatalf("syncNode: %v", err)
	}
	f.refresh(t)
}

func (f *fixture) renewLease(t *testing.T, name string) {
	t.Helper()
	l, _ := f.client.CoordinationV1().Leases(LeaseNamespace).Get(context.Background(), name, metav1.GetOptions{})
	l.Spec.RenewTime = &metav1.MicroTime{Time: f.clock.Now()}
	_, _ = f.client.CoordinationV1().Leases(LeaseNamespace).Update(context.Background(), l, metav1.UpdateOptions{})
	f.refresh(t)
}

func readyNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.NewTime(t0)},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: metav1.NewTime(t0)},
	}}}
}

func lease(name string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: LeaseNamespace},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), RenewTime: &metav1.MicroTime{Time: t0}}}
}

func runningPod(name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tolerations},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

func hasTaint(n *corev1.Node, key string, effect corev1.TaintEffect) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == key && t.Effect == effect {
			return true
		}
	}
	return false
}

func TestSilentNodeBecomesUnknownAndTainted(t *testing.T) {
	f := newFixture(t, readyNode("n1"), lease("n1"), runningPod("p", "n1"))
	f.syncNode(t, "n1")

	// Within the grace period, with the lease renewed on time: healthy.
	for range 3 {
		f.clock.Step(6 * time.Second)
		f.renewLease(t, "n1")
		f.syncNode(t, "n1")
	}
	if readyStatus(f.node(t, "n1")) != corev1.ConditionTrue {
		t.Fatal("node marked unhealthy while renewing its lease")
	}

	// Silent for 9 s: still fine; silent for 11 s: Unknown.
	f.clock.Step(9 * time.Second)
	f.syncNode(t, "n1")
	if readyStatus(f.node(t, "n1")) != corev1.ConditionTrue {
		t.Fatal("node marked unhealthy before its grace period ended")
	}
	f.clock.Step(2 * time.Second)
	f.syncNode(t, "n1")
	n := f.node(t, "n1")
	ready := readyCondition(n)
	if ready.Status != corev1.ConditionUnknown || ready.Reason != "NodeStatusUnknown" || ready.Message != "Kubelet stopped posting node status." {
		t.Fatalf("ready condition %+v", ready)
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeMemoryPressure && c.Status != corev1.ConditionUnknown {
			t.Errorf("MemoryPressure %s, want Unknown", c.Status)
		}
	}
	// The taints follow on the next pass (the status write above triggers it in production).
	f.syncNode(t, "n1")
	n = f.node(t, "n1")
	if !hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute) || !hasTaint(n, corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule) {
		t.Fatalf("taints %+v", n.Spec.Taints)
	}
	for _, tn := range n.Spec.Taints {
		if tn.Effect == corev1.TaintEffectNoExecute && (tn.TimeAdded == nil || !tn.TimeAdded.Time.Equal(f.clock.Now())) {
			t.Errorf("NoExecute taint without timeAdded: %+v", tn)
		}
	}
	// Its pod is no longer Ready.
	p, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "p", metav1.GetOptions{})
	if podReady(p) {
		t.Fatal("pod on lost node still Ready")
	}

	// The node comes back: its kubelet posts Ready=True; the taints go.
	back := f.node(t, "n1")
	readyCondition(back).Status = corev1.ConditionTrue
	readyCondition(back).LastHeartbeatTime = metav1.NewTime(f.clock.Now())
	_, _ = f.client.CoreV1().Nodes().UpdateStatus(context.Background(), back, metav1.UpdateOptions{})
	f.renewLease(t, "n1")
	f.syncNode(t, "n1")
	n = f.node(t, "n1")
	if len(n.Spec.Taints) != 0 || readyStatus(n) != corev1.ConditionTrue {
		t.Fatalf("recovered node: ready %s taints %+v", readyStatus(n), n.Spec.Taints)
	}
}

func TestDesiredTaints(t *testing.T) {
	user := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name   string
		mutate func(*corev1.Node)
		want   []corev1.Taint
	}{
		{name: "healthy", mutate: func(*corev1.Node) {}, want: []corev1.Taint{user}},
		{name: "not ready", mutate: func(n *corev1.Node) { readyCondition(n).Status = corev1.ConditionFalse },
			want: []corev1.Taint{user, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}}},
		{name: "memory pressure and cordoned", mutate: func(n *corev1.Node) {
			n.Status.Conditions[1].Status = corev1.ConditionTrue
			n.Spec.Unschedulable = true
		}, want: []corev1.Taint{user, {Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule}, {Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}}},
		{name: "stale unreachable removed", mutate: func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute})
		}, want: []corev1.Taint{user}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := readyNode("n1")
			n.Spec.Taints = []corev1.Taint{user}
			tc.mutate(n)
			f := newFixture(t, n, lease("n1"))
			f.syncNode(t, "n1")
			got := f.node(t, "n1").Spec.Taints
			if len(got) != len(tc.want) {
				t.Fatalf("taints %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i].Key != tc.want[i].Key || got[i].Effect != tc.want[i].Effect || got[i].Value != tc.want[i].Value {
					t.Fatalf("taints %+v, want %+v", got, tc.want)
				}
			}
		})
	}
}

func TestEvictionDelay(t *testing.T) {
	added := metav1.NewTime(t0)
	unreachable := corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}
	tol := func(secs *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
	}
	tests := []struct {
		name      string
		taints    []corev1.Taint
		tols      []corev1.Toleration
		now       time.Time
		wantEvict bool
		wantWait  time.Duration
	}{
		{name: "no taints", now: t0},
		{name: "not tolerated", taints: []corev1.Taint{unreachable}, now: t0, wantEvict: true},
		{name: "tolerated forever", taints: []corev1.Taint{unreachable}, tols: []corev1.Toleration{tol(nil)}, now: t0.Add(time.Hour)},
		{name: "300s, 100s in", taints: []corev1.Taint{unreachable}, tols: []corev1.Toleration{tol(ptr.To[int64](300))}, now: t0.Add(100 * time.Second), wantEvict: true, wantWait: 200 * time.Second},
		{name: "300s, elapsed", taints: []corev1.Taint{unreachable}, tols: []corev1.Toleration{tol(ptr.To[int64](300))}, now: t0.Add(300 * time.Second), wantEvict: true},
		{name: "smallest of matching tolerations", taints: []corev1.Taint{unreachable},
			tols: []corev1.Toleration{tol(ptr.To[int64](300)), {Operator: corev1.TolerationOpExists, TolerationSeconds: ptr.To[int64](30)}},
			now:  t0, wantEvict: true, wantWait: 30 * time.Second},
		{name: "NoSchedule taints ignored", taints: []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoSchedule}}, now: t0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := runningPod("p", "n1", tc.tols...)
			node := readyNode("n1")
			node.Spec.Taints = tc.taints
			wait, evict := evictionDelay(pod, node, tc.now)
			if evict != tc.wantEvict || wait != tc.wantWait {
				t.Fatalf("evictionDelay = %v, %v; want %v, %v", wait, evict, tc.wantWait, tc.wantEvict)
			}
		})
	}
}

func TestPodEvictedAfterTolerationSeconds(t *testing.T) {
	added := metav1.NewTime(t0)
	node := readyNode("n1")
	readyCondition(node).Status = corev1.ConditionUnknown
	node.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}
	tolerant := runningPod("tolerant", "n1", corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
		Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](5)})
	intolerant := runningPod("intolerant", "n1")
	f := newFixture(t, node, tolerant, intolerant)
	ctx := context.Background()

	deletedPods := func() map[string]bool {
		out := map[string]bool{}
		for _, a := range f.client.Actions() {
			if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
				out[a.(k8stesting.DeleteAction).GetName()] = true
			}
		}
		return out
	}
	for _, key := range []string{"ns/tolerant", "ns/intolerant"} {
		if err := f.c.syncPod(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if d := deletedPods(); !d["intolerant"] || d["tolerant"] {
		t.Fatalf("at t0 deleted %v, want only intolerant", d)
	}
	f.clock.Step(5 * time.Second)
	f.refresh(t)
	if err := f.c.syncPod(ctx, "ns/tolerant"); err != nil {
		t.Fatal(err)
	}
	if d := deletedPods(); !d["tolerant"] {
		t.Fatalf("tolerant pod not evicted after its tolerationSeconds: %v", d)
	}
}
