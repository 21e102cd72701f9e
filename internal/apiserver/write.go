package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/store"
)

// writeOptions are the query parameters every write shares.
type writeOptions struct {
	dryRun          bool
	fieldManager    string
	fieldValidation string
	// managedFieldsSet means the object's managed fields were already computed (server-side apply).
	managedFieldsSet bool
}

func parseWriteOptions(r *http.Request) (writeOptions, error) {
	q := r.URL.Query()
	o := writeOptions{fieldManager: q.Get("fieldManager"), fieldValidation: q.Get("fieldValidation")}
	for _, d := range q["dryRun"] {
		if d != "All" {
			return o, apierrors.NewBadRequest(fmt.Sprintf("Invalid dry run value %q: only All is supported", d))
		}
		o.dryRun = true
	}
	switch o.fieldValidation {
	case "":
		o.fieldValidation = "Warn"
	case "Strict", "Warn", "Ignore":
	default:
		return o, apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn, Strict, got %q", o.fieldValidation))
	}
	if o.fieldManager == "" {
		// Upstream names the manager after the client's user agent program.
		ua := r.Header.Get("User-Agent")
		if i := strings.IndexByte(ua, '/'); i > 0 {
			ua = ua[:i]
		}
		if ua == "" {
			ua = "unknown"
		}
		o.fieldManager = ua
	}
	if len(o.fieldManager) > 128 {
		return o, apierrors.NewBadRequest("fieldManager must not be longer than 128 characters")
	}
	return o, nil
}

// readWrite reads what every write handler starts with: its options and its body. On failure
// it has answered the client and returns ok=false.
func readWrite(w http.ResponseWriter, r *http.Request) (opts writeOptions, body []byte, ok bool) {
	opts, err := parseWriteOptions(r)
	if err == nil {
		body, err = readBody(r)
	}
	if err != nil {
		writeError(w, err)
		return opts, nil, false
	}
	return opts, body, true
}

// readOptionsBody answers 405 unless r uses method, then decodes the small options body a
// subresource takes (Binding, Eviction, Namespace, TokenRequest) into into. An empty body leaves
// into unchanged. On failure it has answered the client and returns false.
func (c *codecs) readOptionsBody(w http.ResponseWriter, r *http.Request, method string, gr schema.GroupResource, into runtime.Object) bool {
	if r.Method != method {
		writeError(w, apierrors.NewMethodNotSupported(gr, r.Method))
		return false
	}
	body, err := readBody(r)
	if err == nil && len(body) > 0 {
		err = c.decodeOptions(r.Header.Get("Content-Type"), body, into)
	}
	if err != nil {
		writeError(w, err)
		return false
	}
	return true
}

func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf(`299 - %q`, msg))
	}
}

// nameValidator is the name rule of a resource, as upstream.
func (h *resourceHandler) nameValidator() apivalidation.ValidateNameFunc {
	switch h.storageRes().Resource {
	case "namespaces":
		return apivalidation.ValidateNamespaceName
	case "services":
		return apivalidation.NameIsDNS1035Label
	case "roles", "rolebindings", "clusterroles", "clusterrolebindings":
		return func(name string, prefix bool) []string { return path.IsValidPathSegmentName(name) }
	}
	return apivalidation.NameIsDNSSubdomain
}

func invalid(h *resourceHandler, name string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: h.res.Group, Kind: h.res.Kind}, name, errs)
}

// create answers POST to a collection.
func (h *resourceHandler) create(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	opts, body, ok := readWrite(w, r)
	if !ok {
		return
	}
	obj, warnings, err := h.decodeObject(r.Header.Get("Content-Type"), body, opts.fieldValidation)
	if err != nil {
		writeError(w, err)
		return
	}
	out, err := h.createObject(ctx, h.toStorage(obj), ri.namespace, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	addWarnings(w, warnings)
	h.writeObject(w, r, http.StatusCreated, out)
}

// decodeObject decodes a request body into a new object of this resource, reporting unknown
// fields (for custom resources: fields the schema prunes) per fieldValidation.
func (h *resourceHandler) decodeObject(contentType string, body []byte, fieldValidation string) (runtime.Object, []string, error) {
	obj, warnings, err := h.s.codecs.decodeBody(contentType, body, h.res.GVK(), h.res.New(), fieldValidation)
	if err != nil {
		return nil, nil, err
	}
	pruned, err := h.prune(obj, fieldValidation)
	if err != nil {
		return nil, nil, err
	}
	return obj, append(warnings, pruned...), nil
}

// toStorage converts a served object to the stored version.
func (h *resourceHandler) toStorage(obj runtime.Object) runtime.Object {
	if h.conv == nil {
		return obj
	}
	return h.conv.toStorage(obj)
}

// createObject admits and stores a new object (in the storage version).
func (h *resourceHandler) createObject(ctx context.Context, obj runtime.Object, ns string, opts writeOptions) (runtime.Object, error) {
	res := h.storageRes()
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if res.Namespaced {
		if acc.GetNamespace() == "" {
			acc.SetNamespace(ns)
		}
		if ns != "" && acc.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if err := h.s.checkNamespace(acc.GetNamespace()); err != nil {
			return nil, err
		}
	} else {
		acc.SetNamespace("")
	}
	if acc.GetName() == "" && acc.GetGenerateName() != "" {
		acc.SetName(acc.GetGenerateName() + utilrand.String(5))
	}
	if acc.GetName() == "" {
		return nil, invalid(h, "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	acc.SetUID(uuid.NewUUID())
	acc.SetCreationTimestamp(timeNow())
	acc.SetResourceVersion("")
	acc.SetDeletionTimestamp(nil)
	acc.SetDeletionGracePeriodSeconds(nil)
	acc.SetSelfLink("")
	if h.hasSpec || h.custom {
		acc.SetGeneration(1)
	} else {
		acc.SetGeneration(0)
	}
	if h.hasStatus && res.Resource != "nodes" {
		resetStatus(obj)
	}
	st := res.Strategy
	st.PrepareForCreate(obj)
	if pod, ok := obj.(*corev1.Pod); ok && !isMirrorPod(pod) {
		sa, err := h.s.podServiceAccount(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
		if err != nil {
			return nil, apierrors.NewForbidden(res.GroupResource(), acc.GetName(),
				fmt.Errorf("error looking up service account %s/%s: %w", pod.Namespace, pod.Spec.ServiceAccountName, err))
		}
		registry.MountServiceAccountToken(pod, sa.AutomountServiceAccountToken, utilrand.String(5))
	}
	st.Default(obj)
	if err := h.s.admitPriority(ctx, res.GroupResource(), acc.GetName(), obj); err != nil {
		return nil, err
	}
	if err := h.s.admitLimitRanges(ctx, obj); err != nil {
		return nil, apierrors.NewForbidden(res.GroupResource(), acc.GetName(), err)
	}
	errs := apivalidation.ValidateObjectMetaAccessor(acc, res.Namespaced, h.nameValidator(), field.NewPath("metadata"))
	errs = append(errs, st.Validate(obj)...)
	if len(errs) > 0 {
		return nil, invalid(h, acc.GetName(), errs)
	}
	var reservations store.Reservations
	if svc, ok := obj.(*corev1.Service); ok {
		if reservations, err = h.s.alloc.allocate(ctx, h.s, svc, nil, opts.dryRun); err != nil {
			return nil, err
		}
	}
	if !opts.managedFieldsSet && (h.createFields == nil || !h.createFields.set(obj, opts.fieldManager, time.Now())) {
		empty := res.New()
		empty.GetObjectKind().SetGroupVersionKind(res.GVK())
		obj = h.fm.UpdateNoErrors(empty, obj, opts.fieldManager)
	}
	if err := h.s.admitQuota(ctx, res.GroupResource(), acc.GetName(), acc.GetNamespace(), obj, opts.dryRun); err != nil {
		return nil, err
	}
	if opts.dryRun {
		return obj, nil
	}
	out, err := h.storage.Create(ctx, h.key(acc.GetNamespace(), acc.GetName()), obj, reservations)
	if err != nil {
		return nil, h.reservationError(err, acc.GetName())
	}
	return out, nil
}

func (h *resourceHandler) reservationError(err error, name string) error {
	if rc, ok := err.(*store.ReservationConflictError); ok {
		return invalid(h, name, field.ErrorList{field.Invalid(field.NewPath("spec"), rc.Key[strings.LastIndexByte(rc.Key, '/')+1:],
			"provided value is already allocated")})
	}
	return err
}

// checkNamespace refuses writes into namespaces that do not exist or are being deleted.
func (s *Server) checkNamespace(ns string) error {
	nh := s.byGR[corev1.SchemeGroupVersion.WithResource("namespaces").GroupResource()]
	if nh == nil {
		return nil
	}
	obj, err := nh.storage.GetCached(ns)
	if err != nil {
		// The cache may lag a namespace created a moment ago.
		obj, err = nh.storage.Get(context.Background(), ns)
		if err != nil {
			return apierrors.NewNotFound(corev1.Resource("namespaces"), ns)
		}
	}
	if n := obj.(*corev1.Namespace); n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		return apierrors.NewForbidden(corev1.Resource("namespaces"), ns,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	}
	return nil
}

// resetStatus zeroes obj.Status: clients may not set status on create or through the main resource.
func resetStatus(obj runtime.Object) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		delete(u.Object, "status")
		return
	}
	v := reflect.ValueOf(obj).Elem().FieldByName("Status")
	if v.IsValid() && v.CanSet() {
		v.Set(reflect.Zero(v.Type()))
	}
}

// copyField copies the named top-level field (e.g. "Status") from src to dst.
func copyField(dst, src runtime.Object, name string) {
	if du, ok := dst.(*unstructured.Unstructured); ok {
		key := strings.ToLower(name[:1]) + name[1:]
		if v, ok := src.(*unstructured.Unstructured).Object[key]; ok {
			du.Object[key] = runtime.DeepCopyJSONValue(v)
		} else {
			delete(du.Object, key)
		}
		return
	}
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	s := reflect.ValueOf(src).Elem().FieldByName(name)
	if d.IsValid() && s.IsValid() && d.CanSet() {
		d.Set(s)
	}
}

// specOf is what a generation bump compares: the spec, or for custom resources everything but
// apiVersion, kind, metadata and status.
func specOf(obj runtime.Object) interface{} {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		out := map[string]interface{}{}
		for k, v := range u.Object {
			switch k {
			case "apiVersion", "kind", "metadata", "status":
			default:
				out[k] = v
			}
		}
		return out
	}
	v := reflect.ValueOf(obj).Elem().FieldByName("Spec")
	if !v.IsValid() {
		return nil
	}
	return v.Interface()
}

// admitUpdate computes the next stored state from the client's desired object next and the
// current one. sub is "" for the main resource or "status".
func (h *resourceHandler) admitUpdate(ctx context.Context, next, cur runtime.Object, sub string, opts writeOptions, applied bool) (runtime.Object, store.Action, store.Reservations, error) {
	var none store.Reservations
	res := h.storageRes()
	nacc, err := meta.Accessor(next)
	if err != nil {
		return nil, store.Keep, none, apierrors.NewBadRequest(err.Error())
	}
	cacc, _ := meta.Accessor(cur)
	if rv := nacc.GetResourceVersion(); rv != "" && rv != cacc.GetResourceVersion() {
		return nil, store.Keep, none, apierrors.NewConflict(h.res.GroupResource(), cacc.GetName(),
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	if nacc.GetName() != cacc.GetName() {
		return nil, store.Keep, none, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", nacc.GetName(), cacc.GetName()))
	}
	if res.Namespaced && nacc.GetNamespace() != "" && nacc.GetNamespace() != cacc.GetNamespace() {
		return nil, store.Keep, none, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if sub == "status" {
		// Only status changes through /status; everything else stays as stored.
		st := cur.DeepCopyObject()
		copyField(st, next, "Status")
		if acc, _ := meta.Accessor(st); acc != nil {
			acc.SetManagedFields(nacc.GetManagedFields())
		}
		next = st
		nacc, _ = meta.Accessor(next)
	}
	nacc.SetNamespace(cacc.GetNamespace())
	nacc.SetUID(cacc.GetUID())
	nacc.SetCreationTimestamp(cacc.GetCreationTimestamp())
	nacc.SetDeletionTimestamp(cacc.GetDeletionTimestamp())
	nacc.SetDeletionGracePeriodSeconds(cacc.GetDeletionGracePeriodSeconds())
	nacc.SetGeneration(cacc.GetGeneration())
	nacc.SetResourceVersion(cacc.GetResourceVersion())
	nacc.SetSelfLink("")
	if cacc.GetDeletionTimestamp() != nil && len(nacc.GetFinalizers()) > len(cacc.GetFinalizers()) && !subset(nacc.GetFinalizers(), cacc.GetFinalizers()) {
		return nil, store.Keep, none, invalid(h, cacc.GetName(), field.ErrorList{field.Forbidden(field.NewPath("metadata", "finalizers"),
			"no new finalizers can be added if the object is being deleted")})
	}
	if sub == "" && h.hasStatus && res.Resource != "nodes" {
		copyField(next, cur, "Status")
	}
	st := res.Strategy
	if sub == "" {
		st.PrepareForUpdate(next, cur)
	}
	st.Default(next)
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(nacc, cacc, field.NewPath("metadata"))
	errs = append(errs, apivalidation.ValidateObjectMetaAccessor(nacc, res.Namespaced, h.nameValidator(), field.NewPath("metadata"))...)
	errs = append(errs, st.ValidateUpdate(next, cur)...)
	if len(errs) > 0 {
		return nil, store.Keep, none, invalid(h, cacc.GetName(), errs)
	}
	if _, ok := next.(*schedulingv1.PriorityClass); ok {
		// Only one global default, whether a class is made one or created as one.
		if err := h.s.admitPriority(ctx, res.GroupResource(), cacc.GetName(), next); err != nil {
			return nil, store.Keep, none, err
		}
	}
	if (h.hasSpec || h.custom) && !equality.Semantic.DeepEqual(specOf(next), specOf(cur)) {
		nacc.SetGeneration(cacc.GetGeneration() + 1)
	}
	var reservations store.Reservations
	if svc, ok := next.(*corev1.Service); ok && sub == "" {
		if reservations, err = h.s.alloc.allocate(ctx, h.s, svc, cur.(*corev1.Service), opts.dryRun); err != nil {
			return nil, store.Keep, none, err
		}
	}
	if !applied {
		fm := h.fm
		if sub == "status" && h.statusFM != nil {
			fm = h.statusFM
		}
		next = fm.UpdateNoErrors(cur, next, opts.fieldManager)
		nacc, _ = meta.Accessor(next)
	}
	if nacc.GetDeletionTimestamp() != nil && len(nacc.GetFinalizers()) == 0 && !hasSpecFinalizers(next) && !gracefulPending(next) {
		return next, store.Delete, releaseFor(h.s, next), nil
	}
	if equality.Semantic.DeepEqual(next, cur) {
		return cur, store.Keep, none, nil
	}
	return next, store.Put, reservations, nil
}

func subset(a, b []string) bool {
	have := map[string]bool{}
	for _, s := range b {
		have[s] = true
	}
	for _, s := range a {
		if !have[s] {
			return false
		}
	}
	return true
}

// hasSpecFinalizers reports whether a namespace still waits for its content to be deleted.
func hasSpecFinalizers(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// gracefulPending reports whether a pod is still within its graceful termination (the node agent
// deletes it with grace 0 once its containers stopped).
func gracefulPending(obj runtime.Object) bool {
	pod, ok := obj.(*corev1.Pod)
	return ok && pod.DeletionGracePeriodSeconds != nil && *pod.DeletionGracePeriodSeconds > 0
}

// update answers PUT of an object or of its status.
func (h *resourceHandler) update(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo, sub string) {
	opts, body, ok := readWrite(w, r)
	if !ok {
		return
	}
	obj, warnings, err := h.decodeObject(r.Header.Get("Content-Type"), body, opts.fieldValidation)
	if err != nil {
		writeError(w, err)
		return
	}
	next := h.toStorage(obj)
	if acc, err := meta.Accessor(next); err == nil && acc.GetName() != ri.name {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", acc.GetName(), ri.name)))
		return
	}
	out, created, err := h.updateObject(ctx, ri, sub, opts, func(cur runtime.Object) (runtime.Object, error) {
		return next.DeepCopyObject(), nil
	}, false)
	if apierrors.IsNotFound(err) && sub == "" && h.allowCreateOnUpdate() {
		out, err = h.createObject(ctx, next, ri.namespace, opts)
		created = true
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

func (h *resourceHandler) allowCreateOnUpdate() bool {
	switch h.storageRes().Resource {
	case "endpoints", "events", "leases":
		return true
	}
	return false
}

// updateObject runs one guarded read-modify-write; mutate returns the desired object.
func (h *resourceHandler) updateObject(ctx context.Context, ri requestInfo, sub string, opts writeOptions,
	mutate func(cur runtime.Object) (runtime.Object, error), applied bool) (runtime.Object, bool, error) {
	var dryRunResult runtime.Object
	out, _, err := h.storage.Update(ctx, h.key(ri.namespace, ri.name), func(cur runtime.Object) (runtime.Object, store.Action, store.Reservations, error) {
		desired, err := mutate(cur.DeepCopyObject())
		if err != nil {
			return nil, store.Keep, store.Reservations{}, err
		}
		next, action, res, err := h.admitUpdate(ctx, desired, cur, sub, opts, applied)
		if err != nil || !opts.dryRun {
			return next, action, res, err
		}
		dryRunResult = next
		return cur, store.Keep, store.Reservations{}, nil
	})
	if err != nil {
		return nil, false, h.reservationError(err, ri.name)
	}
	if dryRunResult != nil {
		return dryRunResult, false, nil
	}
	return out, false, nil
}

// releaseFor lists the reservations an object holds, to free them with it.
func releaseFor(s *Server, obj runtime.Object) store.Reservations {
	if svc, ok := obj.(*corev1.Service); ok {
		return store.Reservations{Release: s.alloc.keysOf(svc)}
	}
	return store.Reservations{}
}

func uidPrecondition(gr schema.GroupResource, p *metav1.Preconditions, acc metav1.Object) error {
	if p == nil {
		return nil
	}
	if p.UID != nil && *p.UID != acc.GetUID() {
		return apierrors.NewConflict(gr, acc.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, acc.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != acc.GetResourceVersion() {
		return apierrors.NewConflict(gr, acc.GetName(), fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, acc.GetResourceVersion()))
	}
	return nil
}
