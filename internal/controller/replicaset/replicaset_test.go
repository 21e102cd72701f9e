package replicaset

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 2},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

type podOpt func(*corev1.Pod)

func newPod(name string, owner *appsv1.ReplicaSet, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: name, Namespace: "default", UID: types.UID(name + "-uid"), ResourceVersion: "1",
		Labels:            map[string]string{"app": owner.Name, "tier": "web"},
		CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
	}}
	p.OwnerReferences = []metav1.OwnerReference{controllerutil.NewControllerRef(owner, rsKind)}
	for _, o := range opts {
		o(p)
	}
	return p
}

func orphan(p *corev1.Pod)    { p.OwnerReferences = nil }
func scheduled(p *corev1.Pod) { p.Spec.NodeName = "n1"; p.Status.Phase = corev1.PodPending }
func running(p *corev1.Pod)   { p.Spec.NodeName = "n1"; p.Status.Phase = corev1.PodRunning }
func readySince(d time.Duration) podOpt {
	return func(p *corev1.Pod) {
		running(p)
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now.Add(-d))}}
	}
}
func created(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-d)) }
}
func restarts(n int32) podOpt {
	return func(p *corev1.Pod) { p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: n}} }
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory)
	c.recorder = record.NewFakeRecorder(100)
	c.now = func() time.Time { return now }
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			_ = factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
	// The fake clientset does not implement generateName.
	client.PrependReactor("create", "*", func(a core.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(core.CreateAction).GetObject()); err == nil && m.GetName() == "" {
			m.SetName(m.GetGenerateName() + utilrand.String(5))
		}
		return false, nil, nil
	})
	client.ClearActions()
	return &fixture{c: c, client: client}
}

func (f *fixture) actions(verb, resource string) []core.Action {
	var out []core.Action
	for _, a := range f.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == "" {
			out = append(out, a)
		}
	}
	return out
}

func (f *fixture) status(t *testing.T) appsv1.ReplicaSetStatus {
	t.Helper()
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			return a.(core.UpdateAction).GetObject().(*appsv1.ReplicaSet).Status
		}
	}
	t.Fatalf("no status update in %v", f.client.Actions())
	return appsv1.ReplicaSetStatus{}
}

func TestScaleUpCreatesPodsOnceUntilObserved(t *testing.T) {
	rs := newRS("web", 3)
	f := newFixture(t, rs)
	ctx := context.Background()
	if err := f.c.sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	creates := f.actions("create", "pods")
	if len(creates) != 3 {
		t.Fatalf("created %d pods, want 3", len(creates))
	}
	pod := creates[0].(core.CreateAction).GetObject().(*corev1.Pod)
	if pod.GenerateName != "web-" || pod.Labels["tier"] != "web" || !*metav1.GetControllerOf(pod).Controller {
		t.Errorf("pod built wrong: %+v", pod.ObjectMeta)
	}
	// The cache has not seen the pods yet: a second sync must not create again.
	f.client.ClearActions()
	if err := f.c.sync(ctx, "default/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.actions("create", "pods")); n != 0 {
		t.Fatalf("second sync created %d pods while expectations were pending", n)
	}
	for range 3 {
		f.c.expectations.CreationObserved("default/web")
	}
	if !f.c.expectations.Satisfied("default/web") {
		t.Fatal("expectations not satisfied after observing all creations")
	}
}

func TestScaleDownDeletesInPreferenceOrder(t *testing.T) {
	rs := newRS("web", 2)
	pods := []runtime.Object{
		newPod("ready-old", rs, readySince(time.Hour), created(3*time.Hour)),
		newPod("ready-new", rs, readySince(time.Minute), created(2*time.Hour)),
		newPod("unscheduled", rs),
		newPod("pending", rs, scheduled),
		newPod("running-unready", rs, running),
	}
	f := newFixture(t, append([]runtime.Object{rs}, pods...)...)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, a := range f.actions("delete", "pods") {
		got[a.(core.DeleteAction).GetName()] = true
	}
	want := map[string]bool{"unscheduled": true, "pending": true, "running-unready": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deleted %v, want %v", got, want)
	}
}

func TestPodsToDeleteOrder(t *testing.T) {
	rs := newRS("web", 0)
	tests := []struct {
		name        string
		first, then *corev1.Pod
	}{
		{"unscheduled before scheduled", newPod("a", rs), newPod("b", rs, scheduled)},
		{"pending before running", newPod("a", rs, scheduled), newPod("b", rs, running)},
		{"not ready before ready", newPod("a", rs, running), newPod("b", rs, readySince(time.Hour))},
		{"recently ready before long ready", newPod("a", rs, readySince(time.Minute)), newPod("b", rs, readySince(time.Hour))},
		{"more restarts first", newPod("a", rs, running, restarts(5)), newPod("b", rs, running, restarts(1))},
		{"newer first", newPod("a", rs, running, created(time.Minute)), newPod("b", rs, running, created(time.Hour))},
		{"lower deletion cost first", newPod("a", rs, readySince(time.Hour), func(p *corev1.Pod) {
			p.Annotations = map[string]string{PodDeletionCostAnnotation: "-10"}
		}), newPod("b", rs, readySince(time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, order := range [][]*corev1.Pod{{tt.first, tt.then}, {tt.then, tt.first}} {
				got := podsToDelete(order, 1)
				if got[0].Name != tt.first.Name {
					t.Errorf("picked %s, want %s", got[0].Name, tt.first.Name)
				}
			}
		})
	}
}

func TestAdoptsOrphansAndReleasesMismatches(t *testing.T) {
	rs := newRS("web", 2)
	adoptee := newPod("orphan", rs, orphan, readySince(time.Hour))
	leaver := newPod("leaver", rs, readySince(time.Hour))
	leaver.Labels = map[string]string{"app": "other"}
	stranger := newPod("stranger", rs, orphan, readySince(time.Hour))
	stranger.Labels = map[string]string{"app": "other"}
	f := newFixture(t, rs, adoptee, leaver, stranger)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	patches := map[string][]metav1.OwnerReference{}
	for _, a := range f.actions("patch", "pods") {
		pa := a.(core.PatchAction)
		var body struct {
			Metadata struct {
				OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(pa.GetPatch(), &body); err != nil {
			t.Fatal(err)
		}
		patches[pa.GetName()] = body.Metadata.OwnerReferences
	}
	if refs, ok := patches["orphan"]; !ok || len(refs) != 1 || refs[0].UID != rs.UID {
		t.Errorf("orphan not adopted: %v", patches)
	}
	if refs, ok := patches["leaver"]; !ok || len(refs) != 0 {
		t.Errorf("mismatching pod not released: %v", patches)
	}
	if _, ok := patches["stranger"]; ok {
		t.Errorf("non-matching orphan touched")
	}
	// One adopted pod of two wanted: one creation.
	if n := len(f.actions("create", "pods")); n != 1 {
		t.Errorf("created %d pods, want 1", n)
	}
}

func TestStatusCountsReadyAvailableAndLabels(t *testing.T) {
	rs := newRS("web", 4)
	rs.Spec.MinReadySeconds = 30
	partial := newPod("partial", rs, readySince(time.Hour))
	partial.Labels = map[string]string{"app": "web"} // matches selector, not full template labels
	f := newFixture(t, rs,
		newPod("avail", rs, readySince(time.Hour)),
		newPod("fresh", rs, readySince(10*time.Second)),
		newPod("unready", rs, running),
		partial,
		newPod("gone", rs, readySince(time.Hour), func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }),
		newPod("done", rs, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
	)
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	got := f.status(t)
	want := appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, ObservedGeneration: 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("status %+v, want %+v", got, want)
	}
	if n := len(f.actions("create", "pods")) + len(f.actions("delete", "pods")); n != 0 {
		t.Errorf("%d pod writes with exactly 4 active pods", n)
	}
}

func TestCreateFailureSetsReplicaFailure(t *testing.T) {
	rs := newRS("web", 2)
	f := newFixture(t, rs)
	f.client.PrependReactor("create", "pods", func(core.Action) (bool, runtime.Object, error) {
		return true, nil, fmt.Errorf("quota exceeded")
	})
	if err := f.c.sync(context.Background(), "default/web"); err == nil {
		t.Fatal("want error from failing creates")
	}
	st := f.status(t)
	if len(st.Conditions) != 1 || st.Conditions[0].Type != appsv1.ReplicaSetReplicaFailure || st.Conditions[0].Reason != "FailedCreate" {
		t.Fatalf("conditions %+v", st.Conditions)
	}
	// Slow start: the first batch of one failed, so only one create was attempted.
	if n := len(f.actions("create", "pods")); n != 1 {
		t.Errorf("attempted %d creates, want 1", n)
	}
	if !f.c.expectations.Satisfied("default/web") {
		t.Error("failed creations left expectations pending")
	}
}

var rsKind = replicaSets{}.kind()

func TestReplicationControllerRunsThroughTheSameController(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy", Namespace: "default", UID: "legacy-uid", Generation: 3},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr.To[int32](2),
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "legacy"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
	client := fake.NewClientset(rc)
	client.PrependReactor("create", "*", func(a core.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(core.CreateAction).GetObject()); err == nil && m.GetName() == "" {
			m.SetName(m.GetGenerateName() + utilrand.String(5))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := NewReplicationController(client, factory)
	c.recorder = record.NewFakeRecorder(100)
	_ = factory.Core().V1().ReplicationControllers().Informer().GetIndexer().Add(rc)
	if err := c.sync(context.Background(), "default/legacy"); err != nil {
		t.Fatal(err)
	}
	var created int
	for _, a := range client.Actions() {
		if a.GetVerb() == "create" && a.GetResource().Resource == "pods" {
			created++
			pod := a.(core.CreateAction).GetObject().(*corev1.Pod)
			ref := metav1.GetControllerOf(pod)
			if ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || pod.Labels["app"] != "legacy" {
				t.Errorf("pod %+v", pod.ObjectMeta)
			}
		}
	}
	if created != 2 {
		t.Fatalf("created %d pods, want 2", created)
	}
	got, _ := client.CoreV1().ReplicationControllers("default").Get(context.Background(), "legacy", metav1.GetOptions{})
	if got.Status.ObservedGeneration != 3 {
		t.Errorf("status %+v", got.Status)
	}
}
