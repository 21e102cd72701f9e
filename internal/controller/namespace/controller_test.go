package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

var (
	podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	cmGVR   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	t0      = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

type staticDiscovery []*metav1.APIResourceList

func (d staticDiscovery) ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error) {
	return d, nil
}

var discoveryLists = staticDiscovery{{
	GroupVersion: "v1",
	APIResources: []metav1.APIResource{
		{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"create", "delete", "deletecollection", "get", "list", "watch"}},
		{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: []string{"get", "update"}},
		{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"create", "delete", "get", "list"}},
	},
}}

func meta(gvr schema.GroupVersionResource, kind, ns, name string, finalizers ...string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Finalizers: finalizers},
	}
}

type fixture struct {
	c      *Controller
	client *fake.Clientset
	meta   *metadatafake.FakeMetadataClient
}

func newFixture(t *testing.T, ns *corev1.Namespace, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(ns)
	scheme := metadatafake.NewTestScheme()
	for _, kind := range []string{"Pod", "ConfigMap"} {
		scheme.AddKnownTypeWithName(schema.GroupVersionKind{Version: "v1", Kind: kind}, &metav1.PartialObjectMetadata{})
	}
	md := metadatafake.NewSimpleMetadataClient(scheme, objs...)
	// The fake tracker has no deletecollection: delete everything in the namespace, except that
	// objects with finalizers only get a deletion timestamp, as the API server would do.
	md.PrependReactor("delete-collection", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		gvr := a.GetResource()
		list, err := md.Tracker().List(gvr, schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1", Kind: ""}, a.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		for _, item := range list.(*metav1.List).Items {
			obj := item.Object.(*metav1.PartialObjectMetadata)
			if len(obj.Finalizers) > 0 {
				now := metav1.NewTime(t0)
				obj.DeletionTimestamp = &now
				obj.DeletionGracePeriodSeconds = new(int64)
				_ = md.Tracker().Update(gvr, obj, obj.Namespace)
				continue
			}
			_ = md.Tracker().Delete(gvr, obj.Namespace, obj.Name)
		}
		return true, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{Metadata: md, Discovery: discoveryLists, Clock: testingclock.NewFakeClock(t0)})
	_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)
	return &fixture{c: c, client: client, meta: md}
}

func terminating() *corev1.Namespace {
	now := metav1.NewTime(t0)
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "doomed", DeletionTimestamp: &now},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
}

func (f *fixture) left(t *testing.T, gvr schema.GroupVersionResource, ns string) int {
	t.Helper()
	list, err := f.meta.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func TestEmptiesNamespaceThenFinalizes(t *testing.T) {
	f := newFixture(t, terminating(),
		meta(podsGVR, "Pod", "doomed", "web-1"), meta(podsGVR, "Pod", "doomed", "web-2"),
		meta(cmGVR, "ConfigMap", "doomed", "settings"),
		meta(podsGVR, "Pod", "other", "keep"))
	if err := f.c.sync(context.Background(), "doomed"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if n := f.left(t, podsGVR, "doomed") + f.left(t, cmGVR, "doomed"); n != 0 {
		t.Fatalf("%d objects left in the namespace", n)
	}
	if f.left(t, podsGVR, "other") != 1 {
		t.Fatal("pod of another namespace deleted")
	}
	var finalized *corev1.Namespace
	var sawTerminating bool
	for _, a := range f.client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok {
			ns := u.GetObject().(*corev1.Namespace)
			switch u.GetSubresource() {
			case "status":
				sawTerminating = sawTerminating || ns.Status.Phase == corev1.NamespaceTerminating
			case "finalize":
				finalized = ns
			}
		}
	}
	if !sawTerminating {
		t.Error("namespace never marked Terminating")
	}
	if finalized == nil {
		t.Fatal("finalize subresource not called")
	}
	if len(finalized.Spec.Finalizers) != 0 {
		t.Fatalf("finalizers after finalize: %v", finalized.Spec.Finalizers)
	}
}

func TestContentRemainingKeepsFinalizer(t *testing.T) {
	f := newFixture(t, terminating(), meta(podsGVR, "Pod", "doomed", "stuck", "example.com/hold"))
	err := f.c.sync(context.Background(), "doomed")
	var remaining *contentRemainingError
	if !errors.As(err, &remaining) {
		t.Fatalf("sync error %v, want content remaining", err)
	}
	ns, _ := f.client.CoreV1().Namespaces().Get(context.Background(), "doomed", metav1.GetOptions{})
	conds := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	for _, c := range ns.Status.Conditions {
		conds[c.Type] = c
	}
	if c := conds[corev1.NamespaceContentRemaining]; c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, "pods has 1 resource instances") {
		t.Errorf("NamespaceContentRemaining %+v", c)
	}
	if c := conds[corev1.NamespaceFinalizersRemaining]; c.Status != corev1.ConditionTrue || !strings.Contains(c.Message, "example.com/hold in 1 resource instances") {
		t.Errorf("NamespaceFinalizersRemaining %+v", c)
	}
	if c := conds[corev1.NamespaceDeletionDiscoveryFailure]; c.Status != corev1.ConditionFalse {
		t.Errorf("NamespaceDeletionDiscoveryFailure %+v", c)
	}
	for _, a := range f.client.Actions() {
		if a.GetSubresource() == "finalize" {
			t.Fatal("finalized with content remaining")
		}
	}
}

func TestActiveNamespaceUntouched(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}
	f := newFixture(t, ns, meta(podsGVR, "Pod", "doomed", "web-1"))
	if err := f.c.sync(context.Background(), "doomed"); err != nil {
		t.Fatal(err)
	}
	if f.left(t, podsGVR, "doomed") != 1 || len(f.client.Actions()) != 0 {
		t.Fatal("active namespace was touched")
	}
}
