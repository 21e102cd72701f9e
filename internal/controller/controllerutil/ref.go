package controllerutil

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// NewControllerRef returns the ownerReference a controller puts on the objects it manages.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// Patcher applies a JSON merge patch to the named object of one resource.
type Patcher func(ctx context.Context, namespace, name string, patch []byte) error

// PodPatcher is the Patcher of pods through client.
func PodPatcher(client kubernetes.Interface) Patcher {
	return func(ctx context.Context, ns, name string, patch []byte) error {
		_, err := client.CoreV1().Pods(ns).Patch(ctx, name, MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
}

// ControllerRevisionPatcher is the Patcher of ControllerRevisions through client.
func ControllerRevisionPatcher(client kubernetes.Interface) Patcher {
	return func(ctx context.Context, ns, name string, patch []byte) error {
		_, err := client.AppsV1().ControllerRevisions(ns).Patch(ctx, name, MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
}

// RefManager decides which objects belong to one owner, adopting matching orphans and releasing
// owned objects that no longer match, the way upstream's ControllerRefManager does.
type RefManager struct {
	Owner    metav1.Object
	OwnerGVK schema.GroupVersionKind
	Selector labels.Selector
	// Filter, if set, must also accept an object for it to belong to the owner (StatefulSets only
	// claim pods named after them).
	Filter func(metav1.Object) bool
	// CanAdopt is called once, before the first adoption, and should confirm with a live read that
	// the owner still exists and is not being deleted: the informer copy may be stale, and adopting
	// into a dying owner would get the orphan garbage-collected.
	CanAdopt func(ctx context.Context) error
	Patch    Patcher

	adoptChecked bool
	adoptErr     error
}

// Claim returns the objects of objs that belong to the owner after adoption and release.
func Claim[T metav1.Object](ctx context.Context, m *RefManager, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		ok, err := m.claimOne(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, obj)
		}
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claiming objects for %s %s/%s: %w", m.OwnerGVK.Kind, m.Owner.GetNamespace(), m.Owner.GetName(), errs[0])
	}
	return claimed, nil
}

func (m *RefManager) matches(obj metav1.Object) bool {
	if !m.Selector.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	return m.Filter == nil || m.Filter(obj)
}

func (m *RefManager) claimOne(ctx context.Context, obj metav1.Object) (bool, error) {
	ref := metav1.GetControllerOf(obj)
	if ref != nil {
		if ref.UID != m.Owner.GetUID() {
			return false, nil // someone else's
		}
		if m.matches(obj) {
			return true, nil
		}
		// Ours but no longer matching: release it, unless either side is going away anyway.
		if m.Owner.GetDeletionTimestamp() != nil || obj.GetDeletionTimestamp() != nil {
			return false, nil
		}
		if err := m.release(ctx, obj); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		return false, nil
	}
	// An orphan: adopt it if it matches.
	if m.Owner.GetDeletionTimestamp() != nil || obj.GetDeletionTimestamp() != nil || !m.matches(obj) {
		return false, nil
	}
	if err := m.adopt(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// ownerRefPatch is a merge patch replacing the object's ownerReferences; uid and resourceVersion
// make it fail rather than clobber a concurrent change.
func ownerRefPatch(obj metav1.Object, refs []metav1.OwnerReference) ([]byte, error) {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	return json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": refs,
		"uid":             obj.GetUID(),
		"resourceVersion": obj.GetResourceVersion(),
	}})
}

func (m *RefManager) adopt(ctx context.Context, obj metav1.Object) error {
	if !m.adoptChecked {
		m.adoptChecked = true
		if m.CanAdopt != nil {
			m.adoptErr = m.CanAdopt(ctx)
		}
	}
	if m.adoptErr != nil {
		return fmt.Errorf("cannot adopt %s: %w", obj.GetName(), m.adoptErr)
	}
	refs := append(append([]metav1.OwnerReference{}, obj.GetOwnerReferences()...), NewControllerRef(m.Owner, m.OwnerGVK))
	patch, err := ownerRefPatch(obj, refs)
	if err != nil {
		return err
	}
	if err := m.Patch(ctx, obj.GetNamespace(), obj.GetName(), patch); err != nil {
		return fmt.Errorf("adopting %s: %w", obj.GetName(), err)
	}
	return nil
}

func (m *RefManager) release(ctx context.Context, obj metav1.Object) error {
	var refs []metav1.OwnerReference
	for _, r := range obj.GetOwnerReferences() {
		if r.UID != m.Owner.GetUID() {
			refs = append(refs, r)
		}
	}
	patch, err := ownerRefPatch(obj, refs)
	if err != nil {
		return err
	}
	if err := m.Patch(ctx, obj.GetNamespace(), obj.GetName(), patch); err != nil {
		return fmt.Errorf("releasing %s: %w", obj.GetName(), err)
	}
	return nil
}

// RecheckOwner builds a CanAdopt function from a live getter: it fails when the live owner has
// another UID (deleted and recreated) or is being deleted.
func RecheckOwner(owner metav1.Object, get func(ctx context.Context) (metav1.Object, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		if fresh.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %s/%s is gone: got uid %v, wanted %v", owner.GetNamespace(), owner.GetName(), fresh.GetUID(), owner.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", owner.GetNamespace(), owner.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}

// MergePatchType is re-exported so controllers' Patchers need not import apimachinery types.
const MergePatchType = types.MergePatchType
