package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// maxJSONPatchOperations bounds the work one JSON patch can ask for.
const maxJSONPatchOperations = 10000

// patch answers PATCH of an object, its status or (via subresource handlers) its scale.
func (h *resourceHandler) patch(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo, sub string) {
	opts, body, ok := readWrite(w, r)
	if !ok {
		return
	}
	pt := types.PatchType(mediaType(r.Header.Get("Content-Type")))
	q := r.URL.Query()
	force := q.Get("force") == "true"
	if pt == types.ApplyPatchType || pt == types.ApplyCBORPatchType {
		if q.Get("fieldManager") == "" {
			writeError(w, apierrors.NewBadRequest("PATCH with apply requires fieldManager to be set"))
			return
		}
		if pt == types.ApplyCBORPatchType {
			writeError(w, unsupportedMediaType(string(pt)))
			return
		}
	} else if force {
		writeError(w, apierrors.NewBadRequest("force may only be set for server-side apply patches"))
		return
	}
	var warnings []string
	mutate := func(cur runtime.Object) (runtime.Object, error) {
		next, ws, err := h.applyPatch(cur, pt, body, opts, force, sub)
		warnings = ws
		return next, err
	}
	out, _, err := h.updateObject(ctx, ri, sub, opts, mutate, pt == types.ApplyPatchType)
	created := false
	if apierrors.IsNotFound(err) && pt == types.ApplyPatchType && sub == "" {
		// Server-side apply creates what does not exist.
		empty := h.storageRes().New()
		empty.GetObjectKind().SetGroupVersionKind(h.storageRes().GVK())
		if acc, aerr := meta.Accessor(empty); aerr == nil {
			acc.SetName(ri.name)
			acc.SetNamespace(ri.namespace)
		}
		var obj runtime.Object
		obj, warnings, err = h.applyPatch(empty, pt, body, opts, force, sub)
		if err == nil {
			out, err = h.createApplied(ctx, obj, ri.namespace, opts)
			created = true
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	addWarnings(w, warnings)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	h.writeObject(w, r, code, out)
}

// createApplied stores an object made by server-side apply, whose managed fields are already set.
func (h *resourceHandler) createApplied(ctx context.Context, obj runtime.Object, ns string, opts writeOptions) (runtime.Object, error) {
	opts.managedFieldsSet = true
	return h.createObject(ctx, obj, ns, opts)
}

// applyPatch applies a patch of type pt to a copy of the stored object cur (storage version).
func (h *resourceHandler) applyPatch(cur runtime.Object, pt types.PatchType, patch []byte, opts writeOptions, force bool, sub string) (runtime.Object, []string, error) {
	served := h.toServed(cur)
	served.GetObjectKind().SetGroupVersionKind(h.res.GVK())
	if pt == types.ApplyPatchType {
		return h.serverSideApply(cur, patch, opts, force, sub)
	}
	curJSON, err := h.s.codecs.encodeJSON(served)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid JSON patch: %v", err))
		}
		if len(p) > maxJSONPatchOperations {
			return nil, nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(p)))
		}
		patched, err = p.Apply(curJSON)
		if err != nil {
			return nil, nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnprocessableEntity,
				Reason: metav1.StatusReasonInvalid, Message: fmt.Sprintf("the server rejected our request due to an error in our request: %v", err)}}
		}
	case types.MergePatchType:
		if !json.Valid(patch) {
			return nil, nil, apierrors.NewBadRequest("invalid JSON merge patch")
		}
		patched, err = jsonpatch.MergePatch(curJSON, patch)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid merge patch: %v", err))
		}
	case types.StrategicMergePatchType:
		if h.custom {
			return nil, nil, &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType,
				Reason: metav1.StatusReasonUnsupportedMediaType, Message: "strategic merge patch is not supported for custom resources; use a JSON merge patch (--type=merge)"}}
		}
		var pm map[string]interface{}
		if err := json.Unmarshal(patch, &pm); err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid strategic merge patch: %v", err))
		}
		schema, err := strategicpatch.NewPatchMetaFromStruct(h.res.New())
		if err != nil {
			return nil, nil, apierrors.NewInternalError(err)
		}
		patched, err = strategicpatch.StrategicMergePatchUsingLookupPatchMeta(curJSON, patch, schema)
		if err != nil {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("unable to apply strategic merge patch: %v", err))
		}
	default:
		return nil, nil, unsupportedMediaType(string(pt))
	}
	obj, warnings, err := h.s.codecs.decodeTyped(patched, h.res.GVK(), h.res.New(), opts.fieldValidation)
	if err != nil {
		return nil, nil, err
	}
	pruned, err := h.prune(obj, opts.fieldValidation)
	if err != nil {
		return nil, nil, err
	}
	return h.toStorage(obj), append(warnings, pruned...), nil
}

// serverSideApply merges an applied configuration into cur with managed-fields ownership.
func (h *resourceHandler) serverSideApply(cur runtime.Object, patch []byte, opts writeOptions, force bool, sub string) (runtime.Object, []string, error) {
	if h.conv != nil {
		return nil, nil, apierrors.NewBadRequest("server-side apply is served for the preferred version of this resource only")
	}
	data, err := bodyToJSON("application/apply-patch+yaml", patch)
	if err != nil {
		return nil, nil, err
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(data); err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding applied configuration: %v", err))
	}
	if gvk := applied.GroupVersionKind(); gvk != h.res.GVK() {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the applied configuration is %s, not %s", gvk, h.res.GVK()))
	}
	// Unknown fields in the applied configuration are reported like any other write.
	_, warnings, err := h.s.codecs.decodeTyped(data, h.res.GVK(), h.res.New(), opts.fieldValidation)
	if err != nil {
		return nil, nil, err
	}
	pruned, err := h.prune(applied, opts.fieldValidation)
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, pruned...)
	fm := h.fm
	if sub == "status" && h.statusFM != nil {
		fm = h.statusFM
	}
	out, err := fm.Apply(cur.DeepCopyObject(), applied, opts.fieldManager, force)
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) {
			return nil, nil, err
		}
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	return out, warnings, nil
}
