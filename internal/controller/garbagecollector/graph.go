package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef identifies an object: its coordinates (from an ownerReference or the object
// itself) and its namespace. Owner references carry no namespace; a namespaced owner is in its
// dependent's namespace.
type objectRef struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	UID        types.UID
}

// node is one object of the ownership graph.
type node struct {
	ref        objectRef
	owners     []metav1.OwnerReference
	dependents map[*node]struct{}
	// virtual nodes were named as owners but have not been observed through an informer (yet).
	virtual bool
	// beingDeleted: the object has a deletionTimestamp.
	beingDeleted bool
	// deletingDependents: being deleted with the foregroundDeletion finalizer; its blocking
	// dependents must go first.
	deletingDependents bool
}

// blocks reports whether dependent d blocks the deletion of owner o (its reference to o has
// blockOwnerDeletion=true).
func (d *node) blocks(o *node) bool {
	for _, r := range d.owners {
		if r.UID == o.ref.UID {
			return r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
		}
	}
	return false
}

// graph is the ownership graph, fed by informer events. Nodes link to their owners and
// dependents; every change that may require work enqueues UIDs for the workers.
type graph struct {
	mu    sync.Mutex
	nodes map[types.UID]*node
	// absent remembers owners known not to exist, so that the dependents of a deleted owner do
	// not each need a live read.
	absent map[types.UID]struct{}

	attemptToDelete func(types.UID)
	attemptToOrphan func(types.UID)
}

// absentCacheSize bounds the absent-owner cache; when full it starts over.
const absentCacheSize = 10000

func newGraph(attemptToDelete, attemptToOrphan func(types.UID)) *graph {
	return &graph{
		nodes:           map[types.UID]*node{},
		absent:          map[types.UID]struct{}{},
		attemptToDelete: attemptToDelete,
		attemptToOrphan: attemptToOrphan,
	}
}

// observe records an added or updated object.
func (g *graph) observe(obj metav1.Object, apiVersion, kind string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	uid := obj.GetUID()
	owners := slices.Clone(obj.GetOwnerReferences())
	n, found := g.nodes[uid]
	if !found {
		n = &node{dependents: map[*node]struct{}{}}
		g.nodes[uid] = n
		n.ref = refOf(obj, apiVersion, kind)
		n.owners = owners
		g.linkOwners(n, owners)
	} else {
		n.virtual = false
		n.ref = refOf(obj, apiVersion, kind)
		added, removed, changed := diffOwners(n.owners, owners)
		if len(added)+len(removed)+len(changed) > 0 {
			// Dropping or unblocking a reference can unblock an owner waiting in foreground
			// deletion.
			for _, r := range append(removed, changed...) {
				if o, ok := g.nodes[r.UID]; ok && o.deletingDependents {
					g.attemptToDelete(o.ref.UID)
				}
			}
			g.unlinkOwners(n, removed)
			n.owners = owners
			g.linkOwners(n, added)
		}
	}
	n.beingDeleted = obj.GetDeletionTimestamp() != nil
	n.deletingDependents = n.beingDeleted && slices.Contains(obj.GetFinalizers(), metav1.FinalizerDeleteDependents)
	switch {
	case n.beingDeleted && slices.Contains(obj.GetFinalizers(), metav1.FinalizerOrphanDependents):
		g.attemptToOrphan(uid)
	case n.deletingDependents:
		for d := range n.dependents {
			g.attemptToDelete(d.ref.UID)
		}
		g.attemptToDelete(uid)
	}
}

// forget records a deleted object.
func (g *graph) forget(uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(uid, false)
}

// forgetVirtual removes a node found not to exist by a live read, if it is still unobserved.
func (g *graph) forgetVirtual(uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.removeLocked(uid, true)
}

func (g *graph) removeLocked(uid types.UID, onlyVirtual bool) {
	n, ok := g.nodes[uid]
	if !ok || (onlyVirtual && !n.virtual) {
		return
	}
	delete(g.nodes, uid)
	g.unlinkOwners(n, n.owners)
	if len(n.dependents) > 0 {
		g.markAbsent(uid)
	}
	// Its dependents lost an owner: check whether they must go.
	for d := range n.dependents {
		g.attemptToDelete(d.ref.UID)
	}
	// An owner waiting in foreground deletion may now be free.
	for _, r := range n.owners {
		if o, ok := g.nodes[r.UID]; ok && o.deletingDependents {
			g.attemptToDelete(o.ref.UID)
		}
	}
}

// linkOwners adds n as a dependent of the owners in refs, creating virtual nodes for owners
// not seen yet (and queueing them to verify they exist).
func (g *graph) linkOwners(n *node, refs []metav1.OwnerReference) {
	for _, r := range refs {
		o, ok := g.nodes[r.UID]
		if !ok {
			o = &node{
				ref:        objectRef{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, Namespace: n.ref.Namespace, UID: r.UID},
				dependents: map[*node]struct{}{},
				virtual:    true,
			}
			g.nodes[r.UID] = o
			g.attemptToDelete(r.UID)
		}
		o.dependents[n] = struct{}{}
		if o.deletingDependents {
			g.attemptToDelete(n.ref.UID)
		}
	}
}

func (g *graph) unlinkOwners(n *node, refs []metav1.OwnerReference) {
	for _, r := range refs {
		if o, ok := g.nodes[r.UID]; ok {
			delete(o.dependents, n)
		}
	}
}

func (g *graph) markAbsent(uid types.UID) {
	if len(g.absent) >= absentCacheSize {
		g.absent = map[types.UID]struct{}{}
	}
	g.absent[uid] = struct{}{}
}

func (g *graph) isAbsent(uid types.UID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.absent[uid]
	return ok
}

func (g *graph) addAbsent(uid types.UID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.markAbsent(uid)
}

// nodeView is a consistent copy of what a worker needs from a node.
type nodeView struct {
	ref                objectRef
	virtual            bool
	beingDeleted       bool
	deletingDependents bool
	dependents         []objectRef
	// blocking are the dependents that block this node's deletion.
	blocking []blockingDependent
}

type blockingDependent struct {
	ref                objectRef
	deletingDependents bool
}

// view returns a snapshot of node uid, or false if it is not in the graph.
func (g *graph) view(uid types.UID) (nodeView, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, ok := g.nodes[uid]
	if !ok {
		return nodeView{}, false
	}
	v := nodeView{ref: n.ref, virtual: n.virtual, beingDeleted: n.beingDeleted, deletingDependents: n.deletingDependents}
	for d := range n.dependents {
		v.dependents = append(v.dependents, d.ref)
		if d.blocks(n) {
			v.blocking = append(v.blocking, blockingDependent{ref: d.ref, deletingDependents: d.deletingDependents})
		}
	}
	return v, true
}

func refOf(obj metav1.Object, apiVersion, kind string) objectRef {
	return objectRef{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: obj.GetUID()}
}

// diffOwners compares owner reference lists by UID: added, removed, and changed (same UID,
// different blockOwnerDeletion or other fields).
func diffOwners(old, cur []metav1.OwnerReference) (added, removed, changed []metav1.OwnerReference) {
	oldByUID := map[types.UID]metav1.OwnerReference{}
	for _, r := range old {
		oldByUID[r.UID] = r
	}
	curUIDs := map[types.UID]bool{}
	for _, r := range cur {
		curUIDs[r.UID] = true
		o, ok := oldByUID[r.UID]
		switch {
		case !ok:
			added = append(added, r)
		case !sameRef(o, r):
			changed = append(changed, r)
		}
	}
	for _, r := range old {
		if !curUIDs[r.UID] {
			removed = append(removed, r)
		}
	}
	return added, removed, changed
}

func sameRef(a, b metav1.OwnerReference) bool {
	deref := func(p *bool) bool { return p != nil && *p }
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name &&
		deref(a.Controller) == deref(b.Controller) && deref(a.BlockOwnerDeletion) == deref(b.BlockOwnerDeletion)
}
