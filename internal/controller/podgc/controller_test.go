package podgc

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newPod(name, node string, phase corev1.PodPhase, created time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func readyNode(name string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
	clock  *testingclock.FakeClock
}

func newFixture(t *testing.T, threshold int, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := testingclock.NewFakeClock(t0)
	c := New(client, factory, Options{TerminatedPodThreshold: threshold, Quarantine: 40 * time.Second, Clock: clk})
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Node:
			_ = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		}
	}
	client.ClearActions()
	return &fixture{c: c, client: client, clock: clk}
}

func (f *fixture) deleted() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "pods" {
			out = append(out, d.GetName())
		}
	}
	slices.Sort(out)
	return out
}

func TestTerminatedPodsBeyondThreshold(t *testing.T) {
	objs := []runtime.Object{readyNode("n1")}
	for i := range 5 {
		objs = append(objs, newPod(fmt.Sprintf("done-%d", i), "n1", corev1.PodSucceeded, t0.Add(time.Duration(i)*time.Minute)))
	}
	objs = append(objs, newPod("failed", "n1", corev1.PodFailed, t0.Add(10*time.Minute)))
	objs = append(objs, newPod("running", "n1", corev1.PodRunning, t0.Add(-time.Hour)))
	f := newFixture(t, 3, objs...)
	if err := f.c.gc(context.Background()); err != nil {
		t.Fatal(err)
	}
	// 6 terminated, threshold 3: the three oldest terminated go, the running pod stays.
	want := []string{"done-0", "done-1", "done-2"}
	if got := f.deleted(); !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
}

func TestOrphanedPodsAfterQuarantine(t *testing.T) {
	f := newFixture(t, -1, readyNode("n1"),
		newPod("on-live", "n1", corev1.PodRunning, t0),
		newPod("on-gone", "gone", corev1.PodRunning, t0),
		newPod("pending", "", corev1.PodPending, t0))
	ctx := context.Background()
	if err := f.c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.deleted(); len(got) != 0 {
		t.Fatalf("deleted %v before quarantine", got)
	}
	f.clock.Step(41 * time.Second)
	if err := f.c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.deleted(); !slices.Equal(got, []string{"on-gone"}) {
		t.Fatalf("deleted %v, want [on-gone]", got)
	}
	// The pod was marked Failed with a DisruptionTarget condition before its deletion.
	var patched bool
	for _, a := range f.client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetSubresource() == "status" && p.GetName() == "on-gone" {
			patched = true
		}
	}
	if !patched {
		t.Fatal("orphaned pod not marked failed")
	}
}

func TestQuarantinedNodeThatExists(t *testing.T) {
	// The node exists in the API but not (yet) in the cache: nothing is deleted.
	f := newFixture(t, -1, newPod("p", "late", corev1.PodRunning, t0))
	_, _ = f.client.CoreV1().Nodes().Create(context.Background(), readyNode("late"), metav1.CreateOptions{})
	ctx := context.Background()
	_ = f.c.gc(ctx)
	f.clock.Step(time.Minute)
	if err := f.c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.deleted(); len(got) != 0 {
		t.Fatalf("deleted %v on an existing node", got)
	}
}

func TestTerminatingPods(t *testing.T) {
	now := metav1.NewTime(t0)
	unscheduled := newPod("unscheduled", "", corev1.PodPending, t0)
	unscheduled.DeletionTimestamp = &now
	onOOS := newPod("on-oos", "oos", corev1.PodRunning, t0)
	onOOS.DeletionTimestamp = &now
	onLive := newPod("on-live", "n1", corev1.PodRunning, t0)
	onLive.DeletionTimestamp = &now
	oos := readyNode("oos", corev1.Taint{Key: outOfServiceTaint, Effect: corev1.TaintEffectNoExecute})
	oos.Status.Conditions[0].Status = corev1.ConditionFalse
	f := newFixture(t, -1, readyNode("n1"), oos, unscheduled, onOOS, onLive)
	if err := f.c.gc(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.deleted(); !slices.Equal(got, []string{"on-oos", "unscheduled"}) {
		t.Fatalf("deleted %v", got)
	}
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok {
			if gp := d.DeleteOptions.GracePeriodSeconds; gp == nil || *gp != 0 {
				t.Errorf("%s deleted with grace %v, want force", d.Name, gp)
			}
		}
	}
}
