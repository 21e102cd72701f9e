package controllerutil

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// OwnedEvents turns the informer events of objects a workload controller owns through controller
// references (a ReplicaSet's pods, a Deployment's ReplicaSets) into keys of their owners, as
// upstream's workload controllers do: a change to an owned object wakes its owner, an orphan wakes
// every owner whose selector matches it so that one can adopt it, and a change of controller
// reference wakes the old owner as well as the new one. T is the owned type, O the owner's.
type OwnedEvents[T, O metav1.Object] struct {
	Queue    workqueue.TypedRateLimitingInterface[string]
	OwnerGVK schema.GroupVersionKind
	// Get and List read owners from the informer cache.
	Get  func(namespace, name string) (O, error)
	List func(namespace string) ([]O, error)
	// Selector returns an owner's label selector.
	Selector func(owner O) *metav1.LabelSelector
	// Adopts, if set, must also accept an orphan for an owner to be woken for it (StatefulSets
	// only adopt pods named after them).
	Adopts func(owner O, orphan T) bool
	// Expectations, if set, is told of the creations and deletions the informer delivers. An
	// object whose graceful deletion has started then counts as deleted already, so that the
	// owner does not wait for it to go before replacing it.
	Expectations *Expectations
	// OnOwnedUpdate, if set, runs after an update of an owned object has woken its owner.
	OnOwnedUpdate func(owner O, old, cur T)
}

// Handler returns the informer handlers for the owned resource.
func (h *OwnedEvents[T, O]) Handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: h.OnAdd, UpdateFunc: h.OnUpdate, DeleteFunc: h.OnDelete}
}

// Owner returns the cached owner a controller reference points to; false when ref is nil, of
// another kind, or names an owner that is gone or was replaced by one with another UID.
func (h *OwnedEvents[T, O]) Owner(namespace string, ref *metav1.OwnerReference) (O, bool) {
	var zero O
	if ref == nil || ref.Kind != h.OwnerGVK.Kind || ref.APIVersion != h.OwnerGVK.GroupVersion().String() {
		return zero, false
	}
	owner, err := h.Get(namespace, ref.Name)
	if err != nil || owner.GetUID() != ref.UID {
		return zero, false
	}
	return owner, true
}

// OnAdd wakes the owner of a new object, or the owners that could adopt it.
func (h *OwnedEvents[T, O]) OnAdd(obj any) {
	o := obj.(T)
	if h.Expectations != nil && o.GetDeletionTimestamp() != nil {
		h.OnDelete(o)
		return
	}
	if ref := metav1.GetControllerOf(o); ref != nil {
		owner, ok := h.Owner(o.GetNamespace(), ref)
		if !ok {
			return
		}
		if key, ok := KeyOf(owner); ok {
			if h.Expectations != nil {
				h.Expectations.CreationObserved(key)
			}
			h.Queue.Add(key)
		}
		return
	}
	h.enqueueMatching(o)
}

// OnUpdate wakes the owners of an object before and after the update, or the owners that could
// adopt it once it is an orphan whose labels or controller reference changed.
func (h *OwnedEvents[T, O]) OnUpdate(oldObj, curObj any) {
	old, cur := oldObj.(T), curObj.(T)
	if old.GetResourceVersion() == cur.GetResourceVersion() {
		return // a resync; nothing changed
	}
	if h.Expectations != nil && cur.GetDeletionTimestamp() != nil && old.GetDeletionTimestamp() == nil {
		// Graceful deletion started: for the owner the object is gone now.
		h.OnDelete(cur)
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	refChanged := (oldRef == nil) != (curRef == nil) || (oldRef != nil && oldRef.UID != curRef.UID)
	if refChanged && oldRef != nil {
		if owner, ok := h.Owner(old.GetNamespace(), oldRef); ok {
			Enqueue(h.Queue, owner)
		}
	}
	if curRef != nil {
		owner, ok := h.Owner(cur.GetNamespace(), curRef)
		if !ok {
			return
		}
		Enqueue(h.Queue, owner)
		if h.OnOwnedUpdate != nil {
			h.OnOwnedUpdate(owner, old, cur)
		}
		return
	}
	if refChanged || !labels.Equals(old.GetLabels(), cur.GetLabels()) {
		h.enqueueMatching(cur)
	}
}

// OnDelete wakes the owner of a deleted object (or tombstone).
func (h *OwnedEvents[T, O]) OnDelete(obj any) {
	o, ok := Tombstone[T](obj)
	if !ok {
		return
	}
	owner, ok := h.Owner(o.GetNamespace(), metav1.GetControllerOf(o))
	if !ok {
		return
	}
	key, ok := KeyOf(owner)
	if !ok {
		return
	}
	if h.Expectations != nil {
		h.Expectations.DeletionObserved(key, string(o.GetUID()))
	}
	h.Queue.Add(key)
}

// enqueueMatching wakes every owner whose selector matches an orphan, so that one can adopt it.
func (h *OwnedEvents[T, O]) enqueueMatching(orphan T) {
	owners, err := h.List(orphan.GetNamespace())
	if err != nil {
		return
	}
	for _, owner := range owners {
		sel, err := metav1.LabelSelectorAsSelector(h.Selector(owner))
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(orphan.GetLabels())) {
			continue
		}
		if h.Adopts != nil && !h.Adopts(owner, orphan) {
			continue
		}
		Enqueue(h.Queue, owner)
	}
}

// RequeueWhenAvailable queues owner again once pod, which has just become ready, has been ready
// for minReadySeconds and so counts as available: no event marks that moment.
func RequeueWhenAvailable(queue workqueue.TypedDelayingInterface[string], owner metav1.Object, minReadySeconds int32, old, cur *corev1.Pod) {
	if minReadySeconds <= 0 || IsPodReady(old) || !IsPodReady(cur) {
		return
	}
	if key, ok := KeyOf(owner); ok {
		queue.AddAfter(key, time.Duration(minReadySeconds)*time.Second+time.Second)
	}
}
