package daemonset

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func newDS(image string) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "default", UID: "agent-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

func newNode(name string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func taint(key string, effect corev1.TaintEffect) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
}

func hashFor(ds *appsv1.DaemonSet) string {
	data, _ := controllerutil.TemplatePatch(&ds.Spec.Template)
	return controllerutil.HashBytes(data, ptr.To[int32](0))
}

func daemonPod(ds *appsv1.DaemonSet, node string, available bool, age time.Duration) *corev1.Pod {
	p := newDaemonPod(ds, node, hashFor(ds))
	p.Name = fmt.Sprintf("%s-%s-%d", ds.Name, node, age)
	p.UID = types.UID(p.Name)
	p.Spec.NodeName = node
	p.CreationTimestamp = metav1.NewTime(now.Add(-age))
	p.Status.Phase = corev1.PodRunning
	if available {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	}
	return p
}

type fixture struct {
	t       *testing.T
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	client := fake.NewClientset(objs...)
	client.PrependReactor("create", "*", func(a core.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(core.CreateAction).GetObject()); err == nil && m.GetName() == "" {
			m.SetName(m.GetGenerateName() + utilrand.String(5))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory)
	c.recorder = record.NewFakeRecorder(1000)
	c.now = func() time.Time { return now }
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *appsv1.DaemonSet:
			err = factory.Apps().V1().DaemonSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Node:
			err = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	client.ClearActions()
	return &fixture{t: t, c: c, client: client, factory: factory}
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(context.Background(), "default/agent"); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
}

// created returns the node each created pod is pinned to.
func (f *fixture) created() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			out = append(out, pinnedNode(a.(core.CreateAction).GetObject().(*corev1.Pod)))
		}
	}
	slices.Sort(out)
	return out
}

func (f *fixture) deleted() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			out = append(out, a.(core.DeleteAction).GetName())
		}
	}
	slices.Sort(out)
	return out
}

func (f *fixture) status() appsv1.DaemonSetStatus {
	f.t.Helper()
	ds, err := f.client.AppsV1().DaemonSets("default").Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds.Status
}

func TestPlacesOnePodPerEligibleNode(t *testing.T) {
	ds := newDS("a:1")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"}
	worker := func(n *corev1.Node) { n.Labels["role"] = "worker" }
	f := newFixture(t, ds,
		newNode("plain", worker),
		newNode("master"), // selector mismatch
		newNode("tainted", worker, taint("dedicated", corev1.TaintEffectNoSchedule)),
		newNode("notready", worker, taint(taintNotReady, corev1.TaintEffectNoExecute)),
		newNode("cordoned", worker, taint(taintUnschedulable, corev1.TaintEffectNoSchedule), func(n *corev1.Node) { n.Spec.Unschedulable = true }),
	)
	f.sync()
	if got, want := f.created(), []string{"cordoned", "notready", "plain"}; !slices.Equal(got, want) {
		t.Fatalf("created pods on %v, want %v", got, want)
	}
	var pod *corev1.Pod
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			pod = a.(core.CreateAction).GetObject().(*corev1.Pod)
		}
	}
	if pod.Spec.NodeName != "" {
		t.Error("daemon pod bound directly instead of pinned by affinity")
	}
	terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" {
		t.Errorf("affinity %+v", terms)
	}
	if len(pod.Spec.Tolerations) != 6 || pod.Labels[controllerutil.ControllerRevisionHashLabel] != hashFor(ds) || pod.Labels[templateGenerationLabel] != "1" {
		t.Errorf("pod tolerations %v labels %v", pod.Spec.Tolerations, pod.Labels)
	}
	if st := f.status(); st.DesiredNumberScheduled != 3 || st.CurrentNumberScheduled != 0 || st.NumberUnavailable != 3 {
		t.Errorf("status %+v", st)
	}
	// The creations are unobserved: a second sync must not create again.
	f.client.ClearActions()
	f.sync()
	if got := f.created(); len(got) != 0 {
		t.Fatalf("second sync created on %v", got)
	}
}

func TestRemovesPodsFromIneligibleNodes(t *testing.T) {
	ds := newDS("a:1")
	f := newFixture(t, ds,
		newNode("ok"),
		newNode("evicting", taint("dedicated", corev1.TaintEffectNoExecute)),
		newNode("noschedule", taint("dedicated", corev1.TaintEffectNoSchedule)),
		daemonPod(ds, "ok", true, time.Hour),
		daemonPod(ds, "ok", true, time.Minute), // duplicate: the newer goes
		daemonPod(ds, "evicting", true, time.Hour),
		daemonPod(ds, "noschedule", true, time.Hour), // NoSchedule lets a running pod stay
		daemonPod(ds, "gone", true, time.Hour),       // node deleted
	)
	f.sync()
	want := []string{"agent-evicting-3600000000000", "agent-gone-3600000000000", "agent-ok-60000000000"}
	if got := f.deleted(); !slices.Equal(got, want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
	if st := f.status(); st.NumberMisscheduled != 2 || st.DesiredNumberScheduled != 1 || st.NumberAvailable != 1 || st.UpdatedNumberScheduled != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestRollingUpdateMaxUnavailable(t *testing.T) {
	old := newDS("a:1")
	ds := newDS("a:2")
	ds.Generation = 2
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
	f := newFixture(t, ds, newNode("n1"), newNode("n2"), newNode("n3"),
		daemonPod(old, "n1", true, time.Hour), daemonPod(old, "n2", true, time.Hour), daemonPod(old, "n3", true, time.Hour))
	f.sync()
	if got := f.deleted(); len(got) != 1 || len(f.created()) != 0 {
		t.Fatalf("first update step deleted %v created %v, want exactly one deletion", got, f.created())
	}
	if st := f.status(); st.UpdatedNumberScheduled != 0 || st.NumberAvailable != 3 {
		t.Errorf("status %+v", st)
	}
}

func TestRollingUpdateOneNodeUnavailableBlocks(t *testing.T) {
	old := newDS("a:1")
	ds := newDS("a:2")
	f := newFixture(t, ds, newNode("n1"), newNode("n2"),
		daemonPod(ds, "n1", false, time.Minute), // new pod not yet available
		daemonPod(old, "n2", true, time.Hour))
	f.sync()
	if got := f.deleted(); len(got) != 0 {
		t.Fatalf("deleted %v while another node is unavailable (maxUnavailable 1)", got)
	}
}

func TestRollingUpdateSurge(t *testing.T) {
	old := newDS("a:1")
	ds := newDS("a:2")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}
	f := newFixture(t, ds, newNode("n1"), newNode("n2"),
		daemonPod(old, "n1", true, time.Hour), daemonPod(old, "n2", true, time.Hour))
	f.sync()
	if got := f.created(); len(got) != 1 || len(f.deleted()) != 0 {
		t.Fatalf("surge step created %v deleted %v, want one creation next to an old pod", got, f.deleted())
	}
	// New pod available next to the old one on n1: the old one goes, n2 surges.
	f2 := newFixture(t, ds, newNode("n1"), newNode("n2"),
		daemonPod(old, "n1", true, time.Hour), daemonPod(ds, "n1", true, time.Minute), daemonPod(old, "n2", true, time.Hour))
	f2.sync()
	if got := f2.deleted(); !slices.Equal(got, []string{"agent-n1-3600000000000"}) {
		t.Fatalf("deleted %v, want n1's old pod", got)
	}
	if got := f2.created(); !slices.Equal(got, []string{"n2"}) {
		t.Fatalf("created on %v, want n2", got)
	}
}

func TestFailedPodReplaced(t *testing.T) {
	ds := newDS("a:1")
	failed := daemonPod(ds, "n1", false, time.Hour)
	failed.Status.Phase = corev1.PodFailed
	f := newFixture(t, ds, newNode("n1"), failed)
	f.sync()
	if got := f.deleted(); len(got) != 1 {
		t.Fatalf("failed pod not deleted: %v", got)
	}
	if got := f.created(); !slices.Equal(got, []string{"n1"}) {
		t.Fatalf("no replacement for the failed pod: %v", got)
	}
}
