package endpointslice

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

type fixture struct {
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
}

func newFixture(t *testing.T, opts ...Options) *fixture {
	t.Helper()
	client := fake.NewClientset()
	n := 0
	// The fake API does not implement generateName.
	client.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		if s.Name == "" {
			n++
			s.Name = fmt.Sprintf("%s%05d", s.GenerateName, n)
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	f := &fixture{c: New(client, factory, opts...), client: client, factory: factory}
	_ = factory.Core().V1().Nodes().Informer().GetIndexer().Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "node-1", Labels: map[string]string{corev1.LabelTopologyZone: "zone-a"}}})
	return f
}

func (f *fixture) add(objs ...runtime.Object) {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			_ = f.factory.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *corev1.Pod:
			_ = f.factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
}

// slices returns the slices in the fake API and loads them into the informer cache, as the
// watch would.
func (f *fixture) slices(t *testing.T) []discoveryv1.EndpointSlice {
	t.Helper()
	list, err := f.client.DiscoveryV1().EndpointSlices("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	idx := f.factory.Discovery().V1().EndpointSlices().Informer().GetIndexer()
	for _, old := range idx.List() {
		_ = idx.Delete(old)
	}
	for i := range list.Items {
		_ = idx.Add(&list.Items[i])
	}
	return list.Items
}

func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func service() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector:   map[string]string{"app": "web"},
			ClusterIP:  "10.96.0.10",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
}

func pod(name, ip string, ready bool, mut ...func(*corev1.Pod)) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "c",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
	for _, m := range mut {
		m(p)
	}
	return p
}

func conds(ready, serving, terminating bool) discoveryv1.EndpointConditions {
	return discoveryv1.EndpointConditions{Ready: ptr.To(ready), Serving: ptr.To(serving), Terminating: ptr.To(terminating)}
}

func TestSliceContents(t *testing.T) {
	f := newFixture(t)
	now := metav1.Now()
	f.add(service(),
		pod("a", "10.0.0.1", true),
		pod("b", "10.0.0.2", false),
		pod("c", "10.0.0.3", true, func(p *corev1.Pod) { p.DeletionTimestamp = &now }),
		pod("d", "", true),
	)
	f.sync(t)
	got := f.slices(t)
	if len(got) != 1 {
		t.Fatalf("%d slices, want 1", len(got))
	}
	s := got[0]
	if s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("address type %s", s.AddressType)
	}
	wantLabels := map[string]string{"tier": "front", discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: ControllerName}
	if fmt.Sprint(s.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v, want %v", s.Labels, wantLabels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != "svc-uid" || !*s.OwnerReferences[0].Controller {
		t.Errorf("owner refs %+v", s.OwnerReferences)
	}
	if len(s.Ports) != 1 || *s.Ports[0].Port != 8080 || *s.Ports[0].Name != "http" {
		t.Errorf("ports %+v", s.Ports)
	}
	want := map[string]discoveryv1.EndpointConditions{
		"a": conds(true, true, false),
		"b": conds(false, false, false),
		"c": conds(false, true, true),
	}
	if len(s.Endpoints) != len(want) {
		t.Fatalf("%d endpoints, want %d: %+v", len(s.Endpoints), len(want), s.Endpoints)
	}
	for _, ep := range s.Endpoints {
		w, ok := want[ep.TargetRef.Name]
		if !ok {
			t.Errorf("unexpected endpoint %s", ep.TargetRef.Name)
			continue
		}
		if *ep.Conditions.Ready != *w.Ready || *ep.Conditions.Serving != *w.Serving || *ep.Conditions.Terminating != *w.Terminating {
			t.Errorf("%s conditions ready=%v serving=%v terminating=%v", ep.TargetRef.Name, *ep.Conditions.Ready, *ep.Conditions.Serving, *ep.Conditions.Terminating)
		}
		if ptr.Deref(ep.Zone, "") != "zone-a" || ptr.Deref(ep.NodeName, "") != "node-1" {
			t.Errorf("%s zone/node %v/%v", ep.TargetRef.Name, ep.Zone, ep.NodeName)
		}
	}

	// A second sync with an up-to-date cache writes nothing.
	f.client.ClearActions()
	f.sync(t)
	if n := len(f.client.Actions()); n != 0 {
		t.Fatalf("idle sync made %d calls: %v", n, f.client.Actions())
	}
}

func TestSlicesSplitAtMax(t *testing.T) {
	f := newFixture(t)
	f.add(service())
	for i := range 250 {
		f.add(pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.0.%d.%d", i/200, i%200+1), true))
	}
	f.sync(t)
	got := f.slices(t)
	if len(got) != 3 {
		t.Fatalf("%d slices, want 3", len(got))
	}
	total := 0
	for _, s := range got {
		if len(s.Endpoints) > DefaultMaxEndpointsPerSlice {
			t.Errorf("slice %s holds %d endpoints", s.Name, len(s.Endpoints))
		}
		total += len(s.Endpoints)
	}
	if total != 250 {
		t.Fatalf("%d endpoints in slices, want 250", total)
	}

	// Removing one pod updates exactly one slice.
	_ = f.factory.Core().V1().Pods().Informer().GetIndexer().Delete(pod("p007", "", true))
	f.client.ClearActions()
	f.sync(t)
	var updates int
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "update" {
			updates++
		} else {
			t.Errorf("unexpected %s", a.GetVerb())
		}
	}
	if updates != 1 {
		t.Fatalf("%d updates, want 1", updates)
	}
}

func TestPlaceholderAndPortGroups(t *testing.T) {
	f := newFixture(t)
	f.add(service())
	f.sync(t)
	got := f.slices(t)
	if len(got) != 1 || len(got[0].Endpoints) != 0 {
		t.Fatalf("want one empty placeholder slice, got %+v", got)
	}

	// Two pods, one exposing the named port and one not: two port groups, placeholder reused or
	// replaced.
	f.add(pod("a", "10.0.0.1", true), pod("b", "10.0.0.2", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil }))
	f.sync(t)
	got = f.slices(t)
	if len(got) != 2 {
		t.Fatalf("%d slices, want 2: %+v", len(got), got)
	}
	for _, s := range got {
		if len(s.Endpoints) != 1 {
			t.Errorf("slice %s has %d endpoints", s.Name, len(s.Endpoints))
		}
		name := s.Endpoints[0].TargetRef.Name
		if (name == "a") != (len(s.Ports) == 1) {
			t.Errorf("pod %s in slice with ports %+v", name, s.Ports)
		}
	}
}

func TestTrackerDetectsStaleCache(t *testing.T) {
	tr := newSliceTracker()
	tr.expectVersion("ns/web", "web-1", "20")
	tr.expectDeleted("ns/web", "web-2")
	s := func(name, rv string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv}}
	}
	tests := []struct {
		name   string
		cached []*discoveryv1.EndpointSlice
		want   bool
	}{
		{"created slice missing", nil, true},
		{"created slice old", []*discoveryv1.EndpointSlice{s("web-1", "19")}, true},
		{"deleted slice still there", []*discoveryv1.EndpointSlice{s("web-1", "20"), s("web-2", "5")}, true},
		{"caught up", []*discoveryv1.EndpointSlice{s("web-1", "21")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.stale("ns/web", tc.cached); got != tc.want {
				t.Fatalf("stale = %v, want %v", got, tc.want)
			}
		})
	}
	tr.observeDeletion("ns/web", "web-2")
	tr.observeDeletion("ns/web", "web-1")
	if tr.stale("ns/web", nil) {
		t.Fatal("stale after deletions observed")
	}
}
