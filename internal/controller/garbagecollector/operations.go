package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"
)

// syncDelete decides about one object: delete it if all its owners are gone (or being deleted
// in foreground), drop references to vanished owners if some remain, or, for an owner in
// foreground deletion, remove its finalizer once its blocking dependents are gone.
func (c *Controller) syncDelete(ctx context.Context, key string) error {
	uid := types.UID(key)
	n, ok := c.graph.view(uid)
	if !ok {
		return nil
	}
	if !n.virtual && n.beingDeleted && !n.deletingDependents {
		return nil // going away already; nothing to decide
	}
	latest, err := c.get(ctx, n.ref)
	switch {
	case apierrors.IsNotFound(err) || (err == nil && latest.UID != uid):
		// The object is gone (or replaced by another with the same name). For a virtual node
		// this is the news its dependents wait for; for an observed one the informer will
		// deliver the deletion too.
		c.graph.addAbsent(uid)
		c.graph.forgetVirtual(uid)
		return nil
	case err != nil:
		return err
	}
	if n.virtual {
		if c.monitored(n.ref.APIVersion, n.ref.Kind) {
			return errNotObserved
		}
		return nil // a kind nobody watches: it exists, and that is all we can know
	}
	if latest.DeletionTimestamp != nil && slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
		return c.processDeletingDependents(ctx, n)
	}
	owners := latest.OwnerReferences
	if len(owners) == 0 {
		return nil
	}
	solid, dangling, waiting, err := c.classifyOwners(ctx, n.ref.Namespace, owners)
	if err != nil {
		return err
	}
	logger := klog.FromContext(ctx).WithValues("object", n.ref.Namespace+"/"+n.ref.Name, "kind", n.ref.Kind)
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// Keep the object for its living owners; forget the others.
		drop := map[types.UID]bool{}
		for _, r := range append(dangling, waiting...) {
			drop[r.UID] = true
		}
		logger.V(2).Info("removing references to owners that are gone or going", "owners", len(drop))
		return c.patchOwnerRefs(ctx, n.ref, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			return slices.DeleteFunc(refs, func(r metav1.OwnerReference) bool { return drop[r.UID] })
		})
	case len(waiting) > 0 && len(n.dependents) > 0:
		// An owner waits in foreground deletion for this object, which has dependents of its
		// own: delete it in foreground too, so that its dependents go first. Dependents that
		// are themselves deleting their dependents must not block it, or the two would wait
		// for each other.
		for _, d := range n.blocking {
			if !d.deletingDependents {
				continue
			}
			err := c.patchOwnerRefs(ctx, d.ref, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
				for i := range refs {
					if refs[i].UID == uid {
						refs[i].BlockOwnerDeletion = new(bool)
					}
				}
				return refs
			})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		logger.V(2).Info("deleting object in foreground for its owner")
		return c.delete(ctx, n.ref, metav1.DeletePropagationForeground)
	default:
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		logger.V(2).Info("deleting object whose owners are gone", "propagation", policy)
		return c.delete(ctx, n.ref, policy)
	}
}

// processDeletingDependents handles an owner in foreground deletion: once no dependent blocks
// it, its foregroundDeletion finalizer goes; until then its blocking dependents are pushed.
func (c *Controller) processDeletingDependents(ctx context.Context, n nodeView) error {
	if len(n.blocking) == 0 {
		return c.removeFinalizer(ctx, n.ref, metav1.FinalizerDeleteDependents)
	}
	for _, d := range n.blocking {
		if !d.deletingDependents {
			c.deleteQueue.Add(string(d.ref.UID))
		}
	}
	return nil
}

// classifyOwners sorts owner references: solid owners exist and are not being deleted in
// foreground; dangling ones are gone; waiting ones are being deleted in foreground.
func (c *Controller) classifyOwners(ctx context.Context, namespace string, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, r := range refs {
		if c.graph.isAbsent(r.UID) {
			dangling = append(dangling, r)
			continue
		}
		owner, err := c.get(ctx, objectRef{APIVersion: r.APIVersion, Kind: r.Kind, Name: r.Name, Namespace: namespace, UID: r.UID})
		switch {
		case apierrors.IsNotFound(err) || (err == nil && owner.UID != r.UID):
			c.graph.addAbsent(r.UID)
			dangling = append(dangling, r)
		case err != nil:
			return nil, nil, nil, err
		case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, r)
		default:
			solid = append(solid, r)
		}
	}
	return solid, dangling, waiting, nil
}

// syncOrphan handles an owner deleted with the orphan finalizer: its dependents lose their
// references to it, then the finalizer goes.
func (c *Controller) syncOrphan(ctx context.Context, key string) error {
	uid := types.UID(key)
	n, ok := c.graph.view(uid)
	if !ok {
		return nil
	}
	var errs []error
	for _, d := range n.dependents {
		err := c.patchOwnerRefs(ctx, d, func(refs []metav1.OwnerReference) []metav1.OwnerReference {
			return slices.DeleteFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return c.removeFinalizer(ctx, n.ref, metav1.FinalizerOrphanDependents)
}

// clientFor returns the metadata client of ref's resource, in ref's namespace when the
// resource is namespaced.
func (c *Controller) clientFor(ref objectRef) (metadata.ResourceInterface, error) {
	mp, err := c.mapper.lookup(ref.APIVersion, ref.Kind)
	if err != nil {
		return nil, err
	}
	ns := ""
	if mp.namespaced {
		ns = ref.Namespace
	}
	return c.metadata.Resource(mp.resource).Namespace(ns), nil
}

// get reads an object's metadata live from the API.
func (c *Controller) get(ctx context.Context, ref objectRef) (*metav1.PartialObjectMetadata, error) {
	client, err := c.clientFor(ref)
	if err != nil {
		return nil, err
	}
	return client.Get(ctx, ref.Name, metav1.GetOptions{})
}

// delete deletes the object with the given propagation, only if it is still the same object.
func (c *Controller) delete(ctx context.Context, ref objectRef, policy metav1.DeletionPropagation) error {
	client, err := c.clientFor(ref)
	if err != nil {
		return err
	}
	uid := ref.UID
	err = client.Delete(ctx, ref.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", ref.Kind, ref.Namespace, ref.Name, err)
	}
	return nil
}

// patchOwnerRefs rewrites an object's ownerReferences with edit, guarded by its
// resourceVersion and retried on conflict.
func (c *Controller) patchOwnerRefs(ctx context.Context, ref objectRef, edit func([]metav1.OwnerReference) []metav1.OwnerReference) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := c.get(ctx, ref)
		if err != nil {
			return err
		}
		if latest.UID != ref.UID {
			return nil
		}
		refs := edit(slices.Clone(latest.OwnerReferences))
		if refs == nil {
			refs = []metav1.OwnerReference{}
		}
		if slices.EqualFunc(refs, latest.OwnerReferences, sameRef) && len(refs) == len(latest.OwnerReferences) {
			return nil
		}
		return c.mergePatch(ctx, ref, map[string]any{"ownerReferences": refs, "resourceVersion": latest.ResourceVersion, "uid": latest.UID})
	})
}

// removeFinalizer removes one finalizer from an object, guarded like patchOwnerRefs.
func (c *Controller) removeFinalizer(ctx context.Context, ref objectRef, finalizer string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := c.get(ctx, ref)
		if err != nil {
			return err
		}
		if latest.UID != ref.UID || !slices.Contains(latest.Finalizers, finalizer) {
			return nil
		}
		rest := slices.DeleteFunc(slices.Clone(latest.Finalizers), func(f string) bool { return f == finalizer })
		var finalizers any = rest
		if len(rest) == 0 {
			finalizers = nil
		}
		return c.mergePatch(ctx, ref, map[string]any{"finalizers": finalizers, "resourceVersion": latest.ResourceVersion, "uid": latest.UID})
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) mergePatch(ctx context.Context, ref objectRef, metadataPatch map[string]any) error {
	client, err := c.clientFor(ref)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": metadataPatch})
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
