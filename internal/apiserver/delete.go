package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/store"
)

// parseDeleteOptions reads DeleteOptions from the body or the query.
func (c *codecs) parseDeleteOptions(r *http.Request) (*metav1.DeleteOptions, bool, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, false, err
	}
	if len(body) > 0 {
		if err := c.decodeOptions(r.Header.Get("Content-Type"), body, opts); err != nil {
			return nil, false, err
		}
	}
	q := r.URL.Query()
	if v := q.Get("gracePeriodSeconds"); v != "" {
		var n int64
		if _, err := fmt.Sscan(v, &n); err != nil {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("invalid gracePeriodSeconds %q", v))
		}
		opts.GracePeriodSeconds = &n
	}
	if v := q.Get("propagationPolicy"); v != "" {
		p := metav1.DeletionPropagation(v)
		opts.PropagationPolicy = &p
	}
	if v := q.Get("orphanDependents"); v != "" {
		b := v == "true"
		opts.OrphanDependents = &b
	}
	dryRun := len(opts.DryRun) > 0
	for _, d := range q["dryRun"] {
		if d != "All" {
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("Invalid dry run value %q", d))
		}
		dryRun = true
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, false, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy must be one of Background, Foreground, Orphan; got %q", *p))
		}
		if opts.OrphanDependents != nil {
			return nil, false, apierrors.NewBadRequest("orphanDependents and propagationPolicy cannot both be set")
		}
	}
	return opts, dryRun, nil
}

func (h *resourceHandler) deleteOne(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	opts, dryRun, err := h.s.codecs.parseDeleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := h.deleteObject(ctx, ri.namespace, ri.name, opts, dryRun)
	if err != nil {
		writeError(w, err)
		return
	}
	h.writeObject(w, r, http.StatusOK, out)
}

// deleteObject deletes one object, or marks it for deletion when finalizers or a pod's graceful
// termination must run first. It returns the object's last (or current) state.
func (h *resourceHandler) deleteObject(ctx context.Context, ns, name string, opts *metav1.DeleteOptions, dryRun bool) (runtime.Object, error) {
	var dryRunResult runtime.Object
	out, _, err := h.storage.Update(ctx, h.key(ns, name), func(cur runtime.Object) (runtime.Object, store.Action, store.Reservations, error) {
		acc, _ := meta.Accessor(cur)
		if err := uidPrecondition(h.res.GroupResource(), opts.Preconditions, acc); err != nil {
			return nil, store.Keep, store.Reservations{}, err
		}
		next := cur.DeepCopyObject()
		nacc, _ := meta.Accessor(next)
		finalizers := propagationFinalizers(nacc.GetFinalizers(), opts)
		nacc.SetFinalizers(finalizers)
		pending := len(finalizers) > 0
		now := metav1.Now()
		if ns, ok := next.(*corev1.Namespace); ok {
			// Namespaces wait for the namespace controller to empty them.
			if len(ns.Spec.Finalizers) > 0 {
				pending = true
			}
			ns.Status.Phase = corev1.NamespaceTerminating
		}
		if pod, ok := next.(*corev1.Pod); ok {
			if grace := podGrace(pod, opts); grace > 0 {
				pending = true
				if pod.DeletionTimestamp == nil || pod.DeletionGracePeriodSeconds == nil || *pod.DeletionGracePeriodSeconds > grace {
					t := metav1.NewTime(now.Add(time.Duration(grace) * time.Second))
					pod.DeletionTimestamp = &t
					pod.DeletionGracePeriodSeconds = &grace
				}
			} else if pod.DeletionGracePeriodSeconds != nil {
				zero := int64(0)
				pod.DeletionGracePeriodSeconds = &zero
			}
		}
		var action store.Action
		switch {
		case !pending:
			action = store.Delete
			next = cur
		default:
			if nacc.GetDeletionTimestamp() == nil {
				nacc.SetDeletionTimestamp(&now)
				zero := int64(0)
				if nacc.GetDeletionGracePeriodSeconds() == nil {
					nacc.SetDeletionGracePeriodSeconds(&zero)
				}
			}
			action = store.Put
		}
		if dryRun {
			dryRunResult = next
			return cur, store.Keep, store.Reservations{}, nil
		}
		if action == store.Delete {
			return cur, store.Delete, releaseFor(h.s, cur), nil
		}
		return next, action, store.Reservations{}, nil
	})
	if err != nil {
		return nil, err
	}
	if dryRunResult != nil {
		return dryRunResult, nil
	}
	return out, nil
}

// propagationFinalizers adds or removes the orphan/foregroundDeletion finalizers the garbage
// collector acts on. The default is Background for every served kind (only the long-gone
// extensions/v1beta1 kinds orphaned by default).
func propagationFinalizers(fs []string, opts *metav1.DeleteOptions) []string {
	orphan := false
	foreground := false
	if opts.OrphanDependents != nil {
		orphan = *opts.OrphanDependents
	}
	if p := opts.PropagationPolicy; p != nil {
		orphan = *p == metav1.DeletePropagationOrphan
		foreground = *p == metav1.DeletePropagationForeground
	}
	has := func(f string) bool {
		for _, x := range fs {
			if x == f {
				return true
			}
		}
		return false
	}
	out := append([]string(nil), fs...)
	if orphan && !has(metav1.FinalizerOrphanDependents) {
		out = append(out, metav1.FinalizerOrphanDependents)
	}
	if foreground && !has(metav1.FinalizerDeleteDependents) {
		out = append(out, metav1.FinalizerDeleteDependents)
	}
	if opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationBackground {
		kept := out[:0]
		for _, f := range out {
			if f != metav1.FinalizerOrphanDependents {
				kept = append(kept, f)
			}
		}
		out = kept
	}
	return out
}

// podGrace is the graceful termination period a pod deletion gets: zero for pods no node runs.
func podGrace(pod *corev1.Pod, opts *metav1.DeleteOptions) int64 {
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	if opts.GracePeriodSeconds != nil {
		grace = *opts.GracePeriodSeconds
	}
	if grace < 0 {
		grace = 0
	}
	return grace
}

// deleteCollection deletes every selected object, one by one.
func (h *resourceHandler) deleteCollection(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	opts, dryRun, err := h.s.codecs.parseDeleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	sel, err := h.parseSelection(r)
	if err != nil {
		writeError(w, err)
		return
	}
	lo := store.ListOptions{Predicate: h.predicate(sel)}
	if ri.namespace != "" {
		lo.Prefix = ri.namespace + "/"
	}
	res, err := h.storage.List(ctx, lo)
	if err != nil {
		writeError(w, err)
		return
	}
	var deleted []*store.Object
	for _, it := range res.Items {
		acc, _ := meta.Accessor(it.Obj)
		out, err := h.deleteObject(ctx, acc.GetNamespace(), acc.GetName(), opts, dryRun)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		deleted = append(deleted, &store.Object{Obj: out})
	}
	h.writeList(w, r, &store.ListResult{Items: deleted, ResourceVersion: res.ResourceVersion})
}
