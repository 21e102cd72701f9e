package garbagecollector

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

type kindInfo struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

var kinds = []kindInfo{
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", true},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "ReplicaSet", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, "ConfigMap", true},
	{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "Node", false},
}

type staticDiscovery struct{ lists []*metav1.APIResourceList }

func (d staticDiscovery) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	return nil, d.lists, nil
}
func (d staticDiscovery) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.lists, nil
}

func newDiscovery() staticDiscovery {
	byGV := map[string]*metav1.APIResourceList{}
	var out []*metav1.APIResourceList
	for _, k := range kinds {
		gv := k.gvr.GroupVersion().String()
		l := byGV[gv]
		if l == nil {
			l = &metav1.APIResourceList{GroupVersion: gv}
			byGV[gv] = l
			out = append(out, l)
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: k.gvr.Resource, Kind: k.kind, Namespaced: k.namespaced,
			Verbs: []string{"get", "list", "watch", "delete", "patch"}})
	}
	return staticDiscovery{lists: out}
}

// fixture plays the API server (finalizer semantics of deletion) and the informers (refresh
// feeds the metadata fake's state into the graph).
type fixture struct {
	t       *testing.T
	c       *Controller
	md      *metadatafake.FakeMetadataClient
	deleted []string // names in order of final removal
}

func newFixture(t *testing.T, objs ...*metav1.PartialObjectMetadata) *fixture {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	for _, k := range kinds {
		scheme.AddKnownTypeWithName(k.gvr.GroupVersion().WithKind(k.kind), &metav1.PartialObjectMetadata{})
	}
	var ros []runtime.Object
	for _, o := range objs {
		ros = append(ros, o)
	}
	md := metadatafake.NewSimpleMetadataClient(scheme, ros...)
	f := &fixture{t: t, md: md}
	md.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		d := a.(k8stesting.DeleteActionImpl)
		obj, err := md.Tracker().Get(d.Resource, d.Namespace, d.Name)
		if err != nil {
			return true, nil, err
		}
		m := obj.(*metav1.PartialObjectMetadata)
		if p := d.DeleteOptions.Preconditions; p != nil && p.UID != nil && *p.UID != m.UID {
			return true, nil, nil
		}
		switch ptr.Deref(d.DeleteOptions.PropagationPolicy, metav1.DeletePropagationBackground) {
		case metav1.DeletePropagationForeground:
			m.Finalizers = append(m.Finalizers, metav1.FinalizerDeleteDependents)
		case metav1.DeletePropagationOrphan:
			m.Finalizers = append(m.Finalizers, metav1.FinalizerOrphanDependents)
		}
		if len(m.Finalizers) == 0 {
			f.deleted = append(f.deleted, m.Name)
			return true, nil, md.Tracker().Delete(d.Resource, d.Namespace, d.Name)
		}
		now := metav1.Now()
		m.DeletionTimestamp = &now
		return true, nil, md.Tracker().Update(d.Resource, m, d.Namespace)
	})
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	f.c = New(client, factory, Options{Metadata: md, Discovery: newDiscovery()})
	if err := f.c.mapper.refresh(); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	return f
}

func obj(k int, name string, uid types.UID, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
	ki := kinds[k]
	ns := "ns"
	if !ki.namespaced {
		ns = ""
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: ki.gvr.GroupVersion().String(), Kind: ki.kind},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: uid, OwnerReferences: owners},
	}
}

func ownedBy(k int, name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: kinds[k].gvr.GroupVersion().String(), Kind: kinds[k].kind, Name: name, UID: uid,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
}

const (
	deploy = iota
	rs
	pod
	cm
	nodeKind
)

// refresh does what the API server and the informers would: objects whose last finalizer is
// gone disappear, and the graph sees the current state.
func (f *fixture) refresh() {
	seen := map[types.UID]bool{}
	for _, k := range kinds {
		list, err := f.md.Tracker().List(k.gvr, schema.GroupVersionKind{Group: "fake-metadata-client-group", Version: "v1"}, "")
		if err != nil {
			f.t.Fatal(err)
		}
		items, _ := list.(*metav1.List)
		if items == nil {
			continue
		}
		for _, it := range items.Items {
			m := it.Object.(*metav1.PartialObjectMetadata)
			if m.DeletionTimestamp != nil && len(m.Finalizers) == 0 {
				f.deleted = append(f.deleted, m.Name)
				_ = f.md.Tracker().Delete(k.gvr, m.Namespace, m.Name)
				continue
			}
			seen[m.UID] = true
			f.c.graph.observe(m, k.gvr.GroupVersion().String(), k.kind)
		}
	}
	f.c.graph.mu.Lock()
	var gone []types.UID
	for uid, n := range f.c.graph.nodes {
		if !n.virtual && !seen[uid] {
			gone = append(gone, uid)
		}
	}
	f.c.graph.mu.Unlock()
	for _, uid := range gone {
		f.c.graph.forget(uid)
	}
}

// settle runs the queues until nothing is left to do.
func (f *fixture) settle() {
	ctx := context.Background()
	for round := 0; round < 50; round++ {
		if f.c.deleteQueue.Len() == 0 && f.c.orphanQueue.Len() == 0 {
			return
		}
		for f.c.deleteQueue.Len() > 0 {
			k, _ := f.c.deleteQueue.Get()
			if err := f.c.syncDelete(ctx, k); err != nil && err != errNotObserved {
				f.t.Fatalf("syncDelete %s: %v", k, err)
			}
			f.c.deleteQueue.Done(k)
			f.refresh()
		}
		for f.c.orphanQueue.Len() > 0 {
			k, _ := f.c.orphanQueue.Get()
			if err := f.c.syncOrphan(ctx, k); err != nil {
				f.t.Fatalf("syncOrphan %s: %v", k, err)
			}
			f.c.orphanQueue.Done(k)
			f.refresh()
		}
	}
	f.t.Fatal("queues did not settle")
}

func (f *fixture) exists(k int, name string) *metav1.PartialObjectMetadata {
	ns := "ns"
	if !kinds[k].namespaced {
		ns = ""
	}
	o, err := f.md.Tracker().Get(kinds[k].gvr, ns, name)
	if err != nil {
		return nil
	}
	return o.(*metav1.PartialObjectMetadata)
}

func (f *fixture) deleteWith(k int, name string, policy metav1.DeletionPropagation) {
	ns := "ns"
	if !kinds[k].namespaced {
		ns = ""
	}
	if err := f.md.Resource(kinds[k].gvr).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
		f.t.Fatal(err)
	}
	f.refresh()
}

// deployment builds web (Deployment) -> web-rs (ReplicaSet) -> web-rs-a, web-rs-b (Pods), plus
// an unrelated ConfigMap.
func deployment() []*metav1.PartialObjectMetadata {
	return []*metav1.PartialObjectMetadata{
		obj(deploy, "web", "d-uid"),
		obj(rs, "web-rs", "rs-uid", ownedBy(deploy, "web", "d-uid")),
		obj(pod, "web-rs-a", "pa-uid", ownedBy(rs, "web-rs", "rs-uid")),
		obj(pod, "web-rs-b", "pb-uid", ownedBy(rs, "web-rs", "rs-uid")),
		obj(cm, "unrelated", "cm-uid"),
	}
}

func TestBackgroundDeletion(t *testing.T) {
	f := newFixture(t, deployment()...)
	f.settle()
	if f.exists(rs, "web-rs") == nil {
		t.Fatal("GC deleted a replica set whose owner exists")
	}
	f.deleteWith(deploy, "web", metav1.DeletePropagationBackground)
	f.settle()
	for _, name := range []string{"web-rs-a", "web-rs-b"} {
		if f.exists(pod, name) != nil {
			t.Errorf("pod %s survived", name)
		}
	}
	if f.exists(rs, "web-rs") != nil {
		t.Error("replica set survived")
	}
	if f.exists(cm, "unrelated") == nil {
		t.Error("unrelated configmap deleted")
	}
}

func TestForegroundDeletion(t *testing.T) {
	f := newFixture(t, deployment()...)
	f.settle()
	f.deleteWith(deploy, "web", metav1.DeletePropagationForeground)
	if d := f.exists(deploy, "web"); d == nil || d.DeletionTimestamp == nil {
		t.Fatal("deployment should be terminating, not gone")
	}
	f.settle()
	if f.exists(deploy, "web") != nil || f.exists(rs, "web-rs") != nil || f.exists(pod, "web-rs-a") != nil {
		t.Fatalf("objects left; deleted %v", f.deleted)
	}
	// Dependents go before their owners.
	pos := func(name string) int { return slices.Index(f.deleted, name) }
	if !(pos("web-rs-a") < pos("web-rs") && pos("web-rs-b") < pos("web-rs") && pos("web-rs") < pos("web")) {
		t.Fatalf("deletion order %v", f.deleted)
	}
}

func TestOrphanDeletion(t *testing.T) {
	f := newFixture(t, deployment()...)
	f.settle()
	f.deleteWith(deploy, "web", metav1.DeletePropagationOrphan)
	f.settle()
	if f.exists(deploy, "web") != nil {
		t.Fatal("deployment not deleted")
	}
	r := f.exists(rs, "web-rs")
	if r == nil {
		t.Fatal("orphaned replica set deleted")
	}
	if len(r.OwnerReferences) != 0 {
		t.Fatalf("replica set still references %+v", r.OwnerReferences)
	}
	if f.exists(pod, "web-rs-a") == nil || len(f.exists(pod, "web-rs-a").OwnerReferences) != 1 {
		t.Fatal("pods of the orphaned replica set changed")
	}
}

func TestDanglingReferences(t *testing.T) {
	f := newFixture(t,
		obj(cm, "keep-owner", "cm1"),
		// Owned by a live ConfigMap and a ReplicaSet that never existed: only the dead
		// reference goes.
		obj(pod, "shared", "p1", ownedBy(cm, "keep-owner", "cm1"), ownedBy(rs, "ghost", "ghost-uid")),
		// Owned only by something that never existed: deleted.
		obj(pod, "orphan", "p2", ownedBy(rs, "ghost", "ghost-uid")),
		// Owned by a cluster-scoped Node that exists.
		obj(pod, "on-node", "p3", ownedBy(nodeKind, "n1", "n1-uid")),
		obj(nodeKind, "n1", "n1-uid"),
	)
	f.settle()
	shared := f.exists(pod, "shared")
	if shared == nil || len(shared.OwnerReferences) != 1 || shared.OwnerReferences[0].UID != "cm1" {
		t.Fatalf("shared pod %+v", shared)
	}
	if f.exists(pod, "orphan") != nil {
		t.Fatal("pod of a non-existent owner kept")
	}
	if f.exists(pod, "on-node") == nil {
		t.Fatal("pod owned by an existing cluster-scoped node deleted")
	}
}

func TestDiffOwners(t *testing.T) {
	a := ownedBy(rs, "a", "a")
	b := ownedBy(rs, "b", "b")
	bUnblocked := b
	bUnblocked.BlockOwnerDeletion = ptr.To(false)
	added, removed, changed := diffOwners([]metav1.OwnerReference{a, b}, []metav1.OwnerReference{bUnblocked, ownedBy(rs, "c", "c")})
	if len(added) != 1 || added[0].UID != "c" || len(removed) != 1 || removed[0].UID != "a" || len(changed) != 1 || changed[0].UID != "b" {
		t.Fatalf("added %v removed %v changed %v", added, removed, changed)
	}
}

func TestMapperRefreshesOnUnknownKind(t *testing.T) {
	d := newDiscovery()
	m := newRESTMapper(d)
	m.minInterval = 0
	mp, err := m.lookup("apps/v1", "ReplicaSet")
	if err != nil || mp.resource.Resource != "replicasets" || !mp.namespaced {
		t.Fatalf("lookup = %+v, %v", mp, err)
	}
	if _, err := m.lookup("example.com/v1", "Widget"); err == nil {
		t.Fatal("unknown kind mapped")
	}
}
