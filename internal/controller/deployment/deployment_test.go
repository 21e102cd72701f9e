package deployment

import (
	"context"
	"fmt"
	"reflect"
	"strings"
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

func newDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid"), Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}

// rsFor builds the ReplicaSet the controller would make for d's current template.
func rsFor(d *appsv1.Deployment, size, available int32, revision string, age time.Duration) *appsv1.ReplicaSet {
	hash := controllerutil.HashObject(&d.Spec.Template, nil)
	tmpl := *d.Spec.Template.DeepCopy()
	tmpl.Labels = map[string]string{"app": d.Name, appsv1.DefaultDeploymentUniqueLabelKey: hash}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name: d.Name + "-" + hash, Namespace: "default", UID: types.UID(d.Name + "-" + hash + "-uid"),
			Labels:            tmpl.Labels,
			CreationTimestamp: metav1.NewTime(now.Add(-age)),
			OwnerReferences:   []metav1.OwnerReference{controllerutil.NewControllerRef(d, controllerKind)},
			Annotations: map[string]string{RevisionAnnotation: revision,
				DesiredReplicasAnnotation: fmt.Sprint(*d.Spec.Replicas),
				MaxReplicasAnnotation:     fmt.Sprint(*d.Spec.Replicas + maxSurge(d))},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(size),
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
		Status: appsv1.ReplicaSetStatus{Replicas: size, ReadyReplicas: available, AvailableReplicas: available},
	}
}

type fixture struct {
	t       *testing.T
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	client.PrependReactor("create", "*", func(a core.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(core.CreateAction).GetObject()); err == nil {
			if m.GetName() == "" {
				m.SetName(m.GetGenerateName() + utilrand.String(5))
			}
			if m.GetUID() == "" {
				m.SetUID(types.UID(m.GetName() + "-uid"))
			}
			if ts := m.GetCreationTimestamp(); ts.IsZero() {
				m.SetCreationTimestamp(metav1.NewTime(now))
			}
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory)
	c.recorder = record.NewFakeRecorder(1000)
	c.now = func() time.Time { return now }
	f := &fixture{t: t, c: c, client: client, factory: factory}
	f.refreshCaches()
	client.ClearActions()
	return f
}

// refreshCaches copies the fake API's objects into the informer caches, like a caught-up watch.
func (f *fixture) refreshCaches() {
	ctx := context.Background()
	ds, _ := f.client.AppsV1().Deployments("").List(ctx, metav1.ListOptions{})
	rss, _ := f.client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{})
	pods, _ := f.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	var items []any
	for i := range ds.Items {
		items = append(items, &ds.Items[i])
	}
	_ = f.factory.Apps().V1().Deployments().Informer().GetIndexer().Replace(items, "")
	items = nil
	for i := range rss.Items {
		items = append(items, &rss.Items[i])
	}
	_ = f.factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Replace(items, "")
	items = nil
	for i := range pods.Items {
		items = append(items, &pods.Items[i])
	}
	_ = f.factory.Core().V1().Pods().Informer().GetIndexer().Replace(items, "")
}

func (f *fixture) sync(name string) {
	f.t.Helper()
	if err := f.c.sync(context.Background(), "default/"+name); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	f.refreshCaches()
}

func (f *fixture) replicaSets() map[string]*appsv1.ReplicaSet {
	list, _ := f.client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (f *fixture) deployment(name string) *appsv1.Deployment {
	d, err := f.client.AppsV1().Deployments("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func progressing(d *appsv1.Deployment) string {
	if c := getCondition(&d.Status, appsv1.DeploymentProgressing); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

func TestSurgeAndUnavailable(t *testing.T) {
	tests := []struct {
		replicas          int32
		surge, unav       *intstr.IntOrString
		wantSurge, wantUn int32
	}{
		{10, nil, nil, 3, 2},
		{3, nil, nil, 1, 0},
		{1, nil, nil, 1, 0},
		{4, ptr.To(intstr.FromInt32(0)), ptr.To(intstr.FromInt32(0)), 0, 1},
		{10, ptr.To(intstr.FromString("50%")), ptr.To(intstr.FromInt32(3)), 5, 3},
		{2, ptr.To(intstr.FromInt32(0)), ptr.To(intstr.FromInt32(5)), 0, 2},
	}
	for _, tt := range tests {
		d := newDeployment("d", tt.replicas, "a")
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: tt.surge, MaxUnavailable: tt.unav}
		s, u := surgeAndUnavailable(d)
		if s != tt.wantSurge || u != tt.wantUn {
			t.Errorf("replicas %d surge %v unavailable %v: got %d/%d, want %d/%d", tt.replicas, tt.surge, tt.unav, s, u, tt.wantSurge, tt.wantUn)
		}
	}
}

func TestNewDeploymentCreatesReplicaSet(t *testing.T) {
	d := newDeployment("web", 3, "nginx:1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first", lastAppliedAnnotation: "{}"}
	f := newFixture(t, d)
	f.sync("web")
	rss := f.replicaSets()
	if len(rss) != 1 {
		t.Fatalf("got %d replicasets", len(rss))
	}
	hash := controllerutil.HashObject(&d.Spec.Template, nil)
	rs := rss["web-"+hash]
	if rs == nil {
		t.Fatalf("replicaset not named web-%s: %v", hash, rss)
	}
	if *rs.Spec.Replicas != 3 || rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
		rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || rs.Labels["app"] != "web" {
		t.Errorf("replicaset spec wrong: %+v", rs.Spec)
	}
	want := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4", "kubernetes.io/change-cause": "first"}
	for k, v := range want {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if _, ok := rs.Annotations[lastAppliedAnnotation]; ok {
		t.Error("last-applied-configuration copied to replicaset")
	}
	got := f.deployment("web")
	if got.Annotations[RevisionAnnotation] != "1" || progressing(got) != "True/NewReplicaSetCreated" {
		t.Errorf("deployment revision %q progressing %q", got.Annotations[RevisionAnnotation], progressing(got))
	}
}

// world simulates the ReplicaSet controller and the nodes: pods created one step become
// available the next. It checks the rolling-update bounds at every step.
func runRollout(t *testing.T, f *fixture, name string, steps int, check func(step int, rss map[string]*appsv1.ReplicaSet)) {
	t.Helper()
	ctx := context.Background()
	for step := range steps {
		f.sync(name)
		rss := f.replicaSets()
		check(step, rss)
		done := true
		for _, rs := range rss {
			st := appsv1.ReplicaSetStatus{
				Replicas:           *rs.Spec.Replicas,
				AvailableReplicas:  min(*rs.Spec.Replicas, rs.Status.Replicas),
				ReadyReplicas:      min(*rs.Spec.Replicas, rs.Status.Replicas),
				ObservedGeneration: rs.Generation,
			}
			if !reflect.DeepEqual(st, rs.Status) {
				done = false
				rs.Status = st
				if _, err := f.client.AppsV1().ReplicaSets("default").UpdateStatus(ctx, rs, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.refreshCaches()
		check(step, f.replicaSets())
		if done && deploymentComplete(f.deployment(name), &f.deployment(name).Status) {
			return
		}
	}
	t.Fatalf("rollout of %s did not complete in %d steps: %v", name, steps, f.deployment(name).Status)
}

func TestRollingUpdateStaysWithinBounds(t *testing.T) {
	tests := []struct {
		replicas    int32
		surge, unav intstr.IntOrString
	}{
		{10, intstr.FromString("25%"), intstr.FromString("25%")},
		{3, intstr.FromInt32(1), intstr.FromInt32(0)},
		{5, intstr.FromInt32(0), intstr.FromInt32(1)},
		{4, intstr.FromString("100%"), intstr.FromInt32(0)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d-%s-%s", tt.replicas, tt.surge.String(), tt.unav.String()), func(t *testing.T) {
			old := newDeployment("web", tt.replicas, "nginx:1")
			oldRS := rsFor(old, tt.replicas, tt.replicas, "1", time.Hour)
			d := newDeployment("web", tt.replicas, "nginx:2")
			d.Generation = 2
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &tt.surge, MaxUnavailable: &tt.unav}
			f := newFixture(t, d, oldRS)
			surge, unav := surgeAndUnavailable(d)
			runRollout(t, f, "web", 50, func(step int, rss map[string]*appsv1.ReplicaSet) {
				var total, avail int32
				for _, rs := range rss {
					total += max(*rs.Spec.Replicas, rs.Status.Replicas)
					avail += min(*rs.Spec.Replicas, rs.Status.AvailableReplicas)
				}
				if total > tt.replicas+surge {
					t.Fatalf("step %d: %d pods > %d+%d", step, total, tt.replicas, surge)
				}
				if avail < tt.replicas-unav {
					t.Fatalf("step %d: %d available < %d-%d", step, avail, tt.replicas, unav)
				}
			})
			rss := f.replicaSets()
			if *rss[oldRS.Name].Spec.Replicas != 0 {
				t.Errorf("old replicaset left at %d", *rss[oldRS.Name].Spec.Replicas)
			}
			got := f.deployment("web")
			if got.Annotations[RevisionAnnotation] != "2" || progressing(got) != "True/NewReplicaSetAvailable" {
				t.Errorf("revision %q progressing %q", got.Annotations[RevisionAnnotation], progressing(got))
			}
			st := got.Status
			if st.UpdatedReplicas != tt.replicas || st.AvailableReplicas != tt.replicas || st.ObservedGeneration != 2 || st.UnavailableReplicas != 0 {
				t.Errorf("final status %+v", st)
			}
		})
	}
}

func TestSurgeCountsPodsNotYetDeleted(t *testing.T) {
	old := newDeployment("web", 3, "nginx:1")
	oldRS := rsFor(old, 2, 2, "1", time.Hour) // scaled down from 3, but 3 pods still exist
	d := newDeployment("web", 3, "nginx:2")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	var objs []runtime.Object
	objs = append(objs, d, oldRS)
	for i := range 3 {
		objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("p%d", i), Namespace: "default", Labels: oldRS.Spec.Template.Labels,
			OwnerReferences: []metav1.OwnerReference{controllerutil.NewControllerRef(oldRS, rsKind)},
		}})
	}
	f := newFixture(t, objs...)
	f.sync("web")
	for name, rs := range f.replicaSets() {
		if name != oldRS.Name && *rs.Spec.Replicas != 1 {
			t.Errorf("new replicaset sized %d with 3 live old pods and surge 1, want 1", *rs.Spec.Replicas)
		}
	}
}

func TestRecreateWaitsForOldPods(t *testing.T) {
	old := newDeployment("web", 2, "nginx:1")
	oldRS := rsFor(old, 2, 2, "1", time.Hour)
	d := newDeployment("web", 2, "nginx:2")
	d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: "old-pod", Namespace: "default", Labels: oldRS.Spec.Template.Labels,
		DeletionTimestamp: ptr.To(metav1.NewTime(now)), Finalizers: []string{"x"},
		OwnerReferences: []metav1.OwnerReference{controllerutil.NewControllerRef(oldRS, rsKind)},
	}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	f := newFixture(t, d, oldRS, pod)

	f.sync("web")
	rss := f.replicaSets()
	if len(rss) != 1 || *rss[oldRS.Name].Spec.Replicas != 0 {
		t.Fatalf("first sync should only scale the old replicaset to 0: %v", rss)
	}
	// Old ReplicaSet reports 0 replicas but a terminating pod remains: still no new ReplicaSet.
	oldNow := rss[oldRS.Name]
	oldNow.Status = appsv1.ReplicaSetStatus{}
	_, _ = f.client.AppsV1().ReplicaSets("default").UpdateStatus(context.Background(), oldNow, metav1.UpdateOptions{})
	f.refreshCaches()
	f.sync("web")
	if n := len(f.replicaSets()); n != 1 {
		t.Fatalf("new replicaset created while an old pod is terminating")
	}
	_ = f.client.CoreV1().Pods("default").Delete(context.Background(), "old-pod", metav1.DeleteOptions{})
	f.refreshCaches()
	f.sync("web")
	rss = f.replicaSets()
	if len(rss) != 2 {
		t.Fatalf("new replicaset not created once old pods are gone")
	}
	for name, rs := range rss {
		if name != oldRS.Name && *rs.Spec.Replicas != 2 {
			t.Errorf("new replicaset at %d, want 2", *rs.Spec.Replicas)
		}
	}
}

func TestRollbackReusesOldReplicaSet(t *testing.T) {
	v1 := newDeployment("web", 2, "nginx:1")
	v2 := newDeployment("web", 2, "nginx:2")
	rs1 := rsFor(v1, 0, 0, "1", 2*time.Hour)
	rs2 := rsFor(v2, 2, 2, "2", time.Hour)
	d := v1.DeepCopy() // kubectl rollout undo copied revision 1's template back
	d.Generation = 3
	f := newFixture(t, d, rs1, rs2)
	f.sync("web")
	rss := f.replicaSets()
	if len(rss) != 2 {
		t.Fatalf("rollback created a new replicaset: %v", rss)
	}
	got := rss[rs1.Name]
	if got.Annotations[RevisionAnnotation] != "3" || got.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("reused replicaset annotations %v", got.Annotations)
	}
	f.sync("web")
	if *f.replicaSets()[rs1.Name].Spec.Replicas == 0 {
		t.Error("reused replicaset not scaled up")
	}
	if f.deployment("web").Annotations[RevisionAnnotation] != "3" {
		t.Errorf("deployment revision %q", f.deployment("web").Annotations[RevisionAnnotation])
	}
}

func TestCleanupKeepsRevisionHistoryLimit(t *testing.T) {
	d := newDeployment("web", 1, "nginx:9")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	objs := []runtime.Object{d, rsFor(d, 1, 1, "9", time.Minute)}
	for i := 1; i <= 3; i++ {
		v := newDeployment("web", 1, fmt.Sprintf("nginx:%d", i))
		objs = append(objs, rsFor(v, 0, 0, fmt.Sprint(i), time.Duration(10-i)*time.Hour))
	}
	f := newFixture(t, objs...)
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}
	_, _ = f.client.AppsV1().Deployments("default").UpdateStatus(context.Background(), d, metav1.UpdateOptions{})
	f.refreshCaches()
	f.sync("web")
	var revs []string
	for _, rs := range f.replicaSets() {
		revs = append(revs, rs.Annotations[RevisionAnnotation])
	}
	if len(revs) != 2 || !strings.Contains(fmt.Sprint(revs), "3") || !strings.Contains(fmt.Sprint(revs), "9") {
		t.Errorf("kept revisions %v, want 3 and 9", revs)
	}
}

func TestPausedDeploymentDoesNotRollOut(t *testing.T) {
	old := newDeployment("web", 2, "nginx:1")
	oldRS := rsFor(old, 2, 2, "1", time.Hour)
	d := newDeployment("web", 2, "nginx:2")
	d.Spec.Paused = true
	f := newFixture(t, d, oldRS)
	f.sync("web")
	if n := len(f.replicaSets()); n != 1 {
		t.Fatalf("paused deployment created a replicaset")
	}
	if got := progressing(f.deployment("web")); got != "Unknown/DeploymentPaused" {
		t.Errorf("progressing %q", got)
	}
	// Resume.
	d = f.deployment("web")
	d.Spec.Paused = false
	_, _ = f.client.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{})
	f.refreshCaches()
	f.sync("web")
	if n := len(f.replicaSets()); n != 2 {
		t.Fatalf("resumed deployment did not roll out")
	}
}

func TestScalingEvent(t *testing.T) {
	d := newDeployment("web", 3, "nginx:1")
	rs := rsFor(d, 3, 3, "1", time.Hour)
	d.Spec.Replicas = ptr.To[int32](10)
	f := newFixture(t, d, rs)
	f.sync("web")
	got := f.replicaSets()[rs.Name]
	if *got.Spec.Replicas != 10 || got.Annotations[DesiredReplicasAnnotation] != "10" || got.Annotations[MaxReplicasAnnotation] != "13" {
		t.Errorf("scaled replicaset %d %v", *got.Spec.Replicas, got.Annotations)
	}
}

func TestProportionalScalingDuringRollout(t *testing.T) {
	v1 := newDeployment("web", 10, "nginx:1")
	v2 := newDeployment("web", 10, "nginx:2")
	rs1 := rsFor(v1, 8, 8, "1", 2*time.Hour)
	rs2 := rsFor(v2, 5, 0, "2", time.Hour) // 8+5 = 13 = 10 + 25% surge
	d := v2.DeepCopy()
	d.Spec.Replicas = ptr.To[int32](20) // allowed 20+5 = 25: 12 more to spread
	f := newFixture(t, d, rs1, rs2)
	f.sync("web")
	rss := f.replicaSets()
	a, b := *rss[rs1.Name].Spec.Replicas, *rss[rs2.Name].Spec.Replicas
	if a+b != 25 || a <= 8 || b <= 5 {
		t.Errorf("proportional scaling gave %d/%d, want both grown to 25 total", a, b)
	}
}

func TestProgressDeadlineExceeded(t *testing.T) {
	d := newDeployment("web", 2, "nginx:1")
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](60)
	rs := rsFor(d, 2, 0, "1", time.Hour)
	past := metav1.NewTime(now.Add(-2 * time.Minute))
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 2, UpdatedReplicas: 2,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
			Reason: reasonRSUpdated, LastUpdateTime: past, LastTransitionTime: past}}}
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	f := newFixture(t, d, rs)
	f.sync("web")
	got := f.deployment("web")
	if progressing(got) != "False/ProgressDeadlineExceeded" {
		t.Errorf("progressing %q", progressing(got))
	}
	if c := getCondition(&got.Status, appsv1.DeploymentAvailable); c == nil || c.Reason != reasonMinimumUnavailable {
		t.Errorf("available condition %+v", c)
	}
}
