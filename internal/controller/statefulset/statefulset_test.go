package statefulset

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	core "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func newSet(replicas int32, image string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "web-uid", Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: "nginx",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "www"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

// revisionFor returns the ControllerRevision the controller makes for set's template.
func revisionFor(set *appsv1.StatefulSet, number int64) *appsv1.ControllerRevision {
	data, _ := controllerutil.TemplatePatch(&set.Spec.Template)
	rev := controllerutil.NewRevision(set, controllerKind, set.Spec.Template.Labels, data, number, ptr.To[int32](0))
	rev.UID = types.UID(rev.Name + "-uid")
	return rev
}

func podAt(set *appsv1.StatefulSet, ordinal int, rev string, ready bool) *corev1.Pod {
	p := newPod(set, &set.Spec.Template, rev, ordinal)
	p.UID = types.UID(p.Name + "-uid")
	p.Spec.NodeName = "n1"
	p.Status.Phase = corev1.PodRunning
	if ready {
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
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory)
	c.recorder = record.NewFakeRecorder(1000)
	c.now = func() time.Time { return now }
	f := &fixture{t: t, c: c, client: client, factory: factory}
	f.refresh()
	client.ClearActions()
	return f
}

func (f *fixture) refresh() {
	ctx := context.Background()
	var items []any
	sets, _ := f.client.AppsV1().StatefulSets("").List(ctx, metav1.ListOptions{})
	for i := range sets.Items {
		items = append(items, &sets.Items[i])
	}
	_ = f.factory.Apps().V1().StatefulSets().Informer().GetIndexer().Replace(items, "")
	items = nil
	pods, _ := f.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	for i := range pods.Items {
		items = append(items, &pods.Items[i])
	}
	_ = f.factory.Core().V1().Pods().Informer().GetIndexer().Replace(items, "")
	items = nil
	revs, _ := f.client.AppsV1().ControllerRevisions("").List(ctx, metav1.ListOptions{})
	for i := range revs.Items {
		items = append(items, &revs.Items[i])
	}
	_ = f.factory.Apps().V1().ControllerRevisions().Informer().GetIndexer().Replace(items, "")
	items = nil
	pvcs, _ := f.client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
	for i := range pvcs.Items {
		items = append(items, &pvcs.Items[i])
	}
	_ = f.factory.Core().V1().PersistentVolumeClaims().Informer().GetIndexer().Replace(items, "")
}

func (f *fixture) sync() {
	f.t.Helper()
	f.client.ClearActions()
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	f.refresh()
}

// writes lists "verb resource/name" of the last sync's writes, excluding status and revisions.
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "list" || a.GetVerb() == "watch" || a.GetVerb() == "get" || a.GetSubresource() != "" ||
			a.GetResource().Resource == "controllerrevisions" {
			continue
		}
		name := ""
		switch a := a.(type) {
		case core.CreateAction:
			name = a.GetObject().(metav1.Object).GetName()
		case core.DeleteAction:
			name = a.GetName()
		case core.PatchAction:
			name = a.GetName()
		case core.UpdateAction:
			name = a.GetObject().(metav1.Object).GetName()
		}
		out = append(out, fmt.Sprintf("%s %s/%s", a.GetVerb(), a.GetResource().Resource, name))
	}
	return out
}

func (f *fixture) set() *appsv1.StatefulSet {
	s, err := f.client.AppsV1().StatefulSets("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) setReady(name string) {
	p, err := f.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	p.Spec.NodeName = "n1"
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	_, _ = f.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{})
	f.refresh()
}

func same(a, b []string) bool { return slices.Equal(a, b) }

func TestOrderedReadyCreatesOneAtATime(t *testing.T) {
	set := newSet(3, "nginx:1")
	f := newFixture(t, set)
	f.sync()
	if got := f.writes(); !same(got, []string{"create persistentvolumeclaims/www-web-0", "create pods/web-0"}) {
		t.Fatalf("first sync wrote %v", got)
	}
	pod, _ := f.client.CoreV1().Pods("default").Get(context.Background(), "web-0", metav1.GetOptions{})
	rev := f.set().Status.UpdateRevision
	if pod.Spec.Hostname != "web-0" || pod.Spec.Subdomain != "nginx" ||
		pod.Labels[appsv1.StatefulSetPodNameLabel] != "web-0" || pod.Labels[appsv1.PodIndexLabel] != "0" ||
		pod.Labels[appsv1.ControllerRevisionHashLabelKey] != rev || rev == "" {
		t.Errorf("pod identity wrong: %+v %+v (revision %q)", pod.Labels, pod.Spec, rev)
	}
	if len(pod.Spec.Volumes) != 1 || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "www-web-0" {
		t.Errorf("pod volumes %+v", pod.Spec.Volumes)
	}
	pvc, _ := f.client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), "www-web-0", metav1.GetOptions{})
	if pvc.Labels["app"] != "nginx" || len(pvc.OwnerReferences) != 0 {
		t.Errorf("claim %+v", pvc.ObjectMeta)
	}

	f.sync() // web-0 not ready yet
	if got := f.writes(); len(got) != 0 {
		t.Fatalf("created %v before web-0 was ready", got)
	}
	f.setReady("web-0")
	f.sync()
	if got := f.writes(); !same(got, []string{"create persistentvolumeclaims/www-web-1", "create pods/web-1"}) {
		t.Fatalf("after web-0 ready wrote %v", got)
	}
	f.setReady("web-1")
	f.sync()
	f.setReady("web-2")
	f.sync()
	st := f.set().Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.UpdatedReplicas != 3 ||
		st.CurrentReplicas != 3 || st.CurrentRevision != st.UpdateRevision || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestParallelCreatesAll(t *testing.T) {
	set := newSet(3, "nginx:1")
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	f := newFixture(t, set)
	f.sync()
	var pods int
	for _, w := range f.writes() {
		if w[:len("create pods")] == "create pods" {
			pods++
		}
	}
	if pods != 3 {
		t.Fatalf("parallel sync wrote %v", f.writes())
	}
}

func TestScaleDownHighestFirstKeepsClaims(t *testing.T) {
	set := newSet(3, "nginx:1")
	rev := revisionFor(set, 1)
	set.Status.CurrentRevision = rev.Name
	objs := []runtime.Object{set, rev}
	for i := range 3 {
		objs = append(objs, podAt(set, i, rev.Name, true), newClaim(set, &set.Spec.VolumeClaimTemplates[0], i))
	}
	set.Spec.Replicas = ptr.To[int32](1)
	f := newFixture(t, objs...)
	f.sync()
	if got := f.writes(); !same(got, []string{"delete pods/web-2"}) {
		t.Fatalf("first scale-down sync wrote %v", got)
	}
	// web-2 is still terminating: nothing else happens.
	p, _ := f.client.CoreV1().Pods("default").Get(context.Background(), "web-1", metav1.GetOptions{})
	terminating := podAt(set, 2, rev.Name, true)
	terminating.DeletionTimestamp = ptr.To(metav1.NewTime(now))
	_ = f.factory.Core().V1().Pods().Informer().GetIndexer().Add(terminating)
	f.client.ClearActions()
	if err := f.c.sync(context.Background(), "default/web"); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); len(got) != 0 {
		t.Fatalf("deleted more while web-2 terminates: %v", got)
	}
	_ = f.factory.Core().V1().Pods().Informer().GetIndexer().Delete(terminating)
	f.sync()
	if got := f.writes(); !same(got, []string{"delete pods/" + p.Name}) {
		t.Fatalf("second scale-down sync wrote %v", got)
	}
}

func TestRollingUpdateWithPartition(t *testing.T) {
	old := newSet(3, "nginx:1")
	rev1 := revisionFor(old, 1)
	set := newSet(3, "nginx:2")
	set.Generation = 2
	set.Status.CurrentRevision = rev1.Name
	set.Status.CurrentReplicas = 3
	set.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}}
	objs := []runtime.Object{set, rev1}
	for i := range 3 {
		objs = append(objs, podAt(old, i, rev1.Name, true), newClaim(set, &set.Spec.VolumeClaimTemplates[0], i))
	}
	f := newFixture(t, objs...)
	var order []string
	for range 10 {
		f.sync()
		for _, w := range f.writes() {
			order = append(order, w)
		}
		for _, name := range []string{"web-0", "web-1", "web-2"} {
			if _, err := f.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{}); err == nil {
				f.setReady(name)
			}
		}
	}
	want := []string{"delete pods/web-2", "create pods/web-2", "delete pods/web-1", "create pods/web-1"}
	if !same(order, want) {
		t.Fatalf("rollout order %v, want %v", order, want)
	}
	st := f.set().Status
	if st.UpdatedReplicas != 2 || st.CurrentReplicas != 1 || st.CurrentRevision == st.UpdateRevision {
		t.Errorf("partitioned status %+v", st)
	}
	web0, _ := f.client.CoreV1().Pods("default").Get(context.Background(), "web-0", metav1.GetOptions{})
	if web0.Spec.Containers[0].Image != "nginx:1" {
		t.Error("web-0 below the partition was updated")
	}
	web2, _ := f.client.CoreV1().Pods("default").Get(context.Background(), "web-2", metav1.GetOptions{})
	if web2.Spec.Containers[0].Image != "nginx:2" || web2.Labels[appsv1.ControllerRevisionHashLabelKey] != st.UpdateRevision {
		t.Errorf("web-2 not at the update revision: %v", web2.Labels)
	}
}

func TestRollbackRenumbersEquivalentRevision(t *testing.T) {
	v1 := newSet(1, "nginx:1")
	v2 := newSet(1, "nginx:2")
	rev1, rev2 := revisionFor(v1, 1), revisionFor(v2, 2)
	set := v1.DeepCopy()
	set.Status.CurrentRevision = rev2.Name
	f := newFixture(t, set, rev1, rev2, podAt(v2, 0, rev2.Name, true))
	f.sync()
	got, err := f.client.AppsV1().ControllerRevisions("default").Get(context.Background(), rev1.Name, metav1.GetOptions{})
	if err != nil || got.Revision != 3 {
		t.Fatalf("rolled-back revision %v renumbered to %d, want 3", err, got.Revision)
	}
	revs, _ := f.client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
	if len(revs.Items) != 2 {
		t.Errorf("%d revisions, want 2", len(revs.Items))
	}
	if f.set().Status.UpdateRevision != rev1.Name {
		t.Errorf("update revision %q", f.set().Status.UpdateRevision)
	}
}

func TestRetentionPolicyDelete(t *testing.T) {
	set := newSet(1, "nginx:1")
	set.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.DeletePersistentVolumeClaimRetentionPolicyType,
	}
	f := newFixture(t, set)
	f.sync()
	pvc, _ := f.client.CoreV1().PersistentVolumeClaims("default").Get(context.Background(), "www-web-0", metav1.GetOptions{})
	if len(pvc.OwnerReferences) != 1 || pvc.OwnerReferences[0].UID != set.UID {
		t.Fatalf("whenDeleted=Delete claim owners %+v", pvc.OwnerReferences)
	}
	f.setReady("web-0")
	s := f.set()
	s.Spec.Replicas = ptr.To[int32](0)
	_, _ = f.client.AppsV1().StatefulSets("default").Update(context.Background(), s, metav1.UpdateOptions{})
	f.refresh()
	f.sync()
	if got := f.writes(); !same(got, []string{"patch persistentvolumeclaims/www-web-0", "delete pods/web-0"}) {
		t.Fatalf("whenScaled=Delete scale-down wrote %v", got)
	}
}

func TestParseName(t *testing.T) {
	tests := []struct {
		name   string
		parent string
		ord    int
	}{
		{"web-0", "web", 0}, {"my-web-12", "my-web", 12}, {"web", "web", -1}, {"web-x", "web-x", -1}, {"web-01", "web-01", -1},
	}
	for _, tt := range tests {
		if p, o := parseName(tt.name); p != tt.parent || o != tt.ord {
			t.Errorf("parseName(%q) = %q,%d", tt.name, p, o)
		}
	}
}
