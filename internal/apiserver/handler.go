package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"

	"github.com/skiff-sh/skiff/internal/printers"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/store"
)

// resourceHandler serves one group/version/resource.
type resourceHandler struct {
	s   *Server
	res *registry.Resource
	// storage is shared with storageHandler when this is a converted view (autoscaling/v1 HPAs).
	storage        *store.Storage
	storageHandler *resourceHandler
	conv           *conversion
	fm             *managedfields.FieldManager
	// createFields is fm's shortcut for plain creates (nil for custom resources).
	createFields *createFields
	statusFM     *managedfields.FieldManager
	fieldKeys    map[string]bool
	hasStatus    bool
	hasSpec      bool
	// custom marks CRD-defined resources (unstructured objects, JSON only).
	custom  bool
	printer printers.Printer
}

func newResourceHandler(s *Server, r *registry.Resource) (*resourceHandler, error) {
	h := &resourceHandler{s: s, res: r, hasStatus: r.HasSubresource("status"), printer: printers.For(schema.GroupKind{Group: r.Group, Kind: r.Kind})}
	if r.Custom != nil {
		h.custom = true
		h.printer = customPrinter(r)
		h.fieldKeys = map[string]bool{"metadata.name": true, "metadata.namespace": true}
		var err error
		if h.fm, err = customFieldManager(r, ""); err != nil {
			return nil, fmt.Errorf("field manager for %s: %w", r.GVR(), err)
		}
		if h.hasStatus {
			if h.statusFM, err = customFieldManager(r, "status"); err != nil {
				return nil, fmt.Errorf("status field manager for %s: %w", r.GVR(), err)
			}
		}
		return h, nil
	}
	sample := r.New()
	v := reflect.ValueOf(sample).Elem()
	h.hasSpec = v.FieldByName("Spec").IsValid()
	h.fieldKeys = map[string]bool{"metadata.name": true, "metadata.namespace": true}
	for k := range r.Strategy.FieldSet(sample) {
		h.fieldKeys[k] = true
	}
	var tc managedfields.TypeConverter = applyconfigurations.NewTypeConverter(s.codecs.scheme)
	if r.Group == crdGR.Group {
		// client-go's schema covers k8s.io/api only.
		tc = managedfields.NewDeducedTypeConverter()
	}
	defaulter := strategyDefaulter{r.Strategy}
	var err error
	h.fm, err = managedfields.NewDefaultFieldManager(tc, runtime.UnsafeObjectConvertor(s.codecs.scheme), defaulter, s.codecs.scheme,
		r.GVK(), r.GVK().GroupVersion(), "", nil)
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", r.GVR(), err)
	}
	if h.createFields, err = newCreateFields(tc, r.New(), r.GVK()); err != nil {
		return nil, fmt.Errorf("create field manager for %s: %w", r.GVR(), err)
	}
	if h.hasStatus {
		h.statusFM, err = managedfields.NewDefaultFieldManager(tc, runtime.UnsafeObjectConvertor(s.codecs.scheme), defaulter, s.codecs.scheme,
			r.GVK(), r.GVK().GroupVersion(), "status", nil)
		if err != nil {
			return nil, fmt.Errorf("status field manager for %s: %w", r.GVR(), err)
		}
	}
	return h, nil
}

type strategyDefaulter struct{ st registry.Strategy }

func (d strategyDefaulter) Default(obj runtime.Object) { d.st.Default(obj) }

// strategy is the strategy of the stored kind.
func (h *resourceHandler) strategy() registry.Strategy {
	if h.storageHandler != nil {
		return h.storageHandler.res.Strategy
	}
	return h.res.Strategy
}

// storageRes is the registry entry of the stored kind.
func (h *resourceHandler) storageRes() *registry.Resource {
	if h.storageHandler != nil {
		return h.storageHandler.res
	}
	return h.res
}

func (h *resourceHandler) key(ns, name string) string {
	if h.res.Namespaced {
		return ns + "/" + name
	}
	return name
}

func (h *resourceHandler) serve(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	if !h.res.Namespaced && ri.namespace != "" {
		writeError(w, apierrors.NewNotFound(h.res.GroupResource(), ri.name))
		return
	}
	if ri.subresource != "" {
		if !h.res.HasSubresource(ri.subresource) {
			writeError(w, &apierrors.StatusError{ErrStatus: notFoundStatus(fmt.Sprintf("the server could not find the requested resource (%s %s)", strings.ToLower(r.Method), r.URL.Path))})
			return
		}
		h.serveSubresource(w, r, ri)
		return
	}
	q := r.URL.Query()
	if wv := q.Get("watch"); ri.verb == "list" && (wv == "true" || wv == "1") {
		h.watch(r.Context(), w, r, ri)
		return
	}
	if r.ProtoMajor < 2 {
		// An HTTP/1.1 connection serves its requests on one long-lived goroutine already.
		h.serveVerb(w, r, ri)
		return
	}
	h.s.workers.do(func() { h.serveVerb(w, r, ri) })
}

// serveVerb serves a short (non-watch) request on the resource itself.
func (h *resourceHandler) serveVerb(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	ctx := r.Context()
	switch ri.verb {
	case "get":
		h.get(ctx, w, r, ri)
	case "list":
		h.list(ctx, w, r, ri)
	case "create":
		if ri.name != "" {
			writeError(w, apierrors.NewMethodNotSupported(h.res.GroupResource(), "create"))
			return
		}
		h.create(ctx, w, r, ri)
	case "update":
		h.update(ctx, w, r, ri, "")
	case "patch":
		h.patch(ctx, w, r, ri, "")
	case "delete":
		h.deleteOne(ctx, w, r, ri)
	case "deletecollection":
		h.deleteCollection(ctx, w, r, ri)
	default:
		writeError(w, apierrors.NewMethodNotSupported(h.res.GroupResource(), r.Method))
	}
}

// get answers GET of one object: from etcd, or from the cache for resourceVersion=0.
func (h *resourceHandler) get(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	o, err := h.storage.GetObject(ctx, h.key(ri.namespace, ri.name), r.URL.Query().Get("resourceVersion") == "0")
	if err != nil {
		writeError(w, err)
		return
	}
	h.writeStored(w, r, http.StatusOK, o)
}

func (h *resourceHandler) read(ctx context.Context, ns, name string, cached bool) (runtime.Object, error) {
	if cached {
		return h.storage.GetCached(h.key(ns, name))
	}
	return h.storage.Get(ctx, h.key(ns, name))
}

// selection holds the parsed list and watch filters.
type selection struct {
	label labels.Selector
	field fields.Selector
}

func (h *resourceHandler) parseSelection(r *http.Request) (selection, error) {
	q := r.URL.Query()
	sel := selection{label: labels.Everything(), field: fields.Everything()}
	if s := q.Get("labelSelector"); s != "" {
		ls, err := labels.Parse(s)
		if err != nil {
			return sel, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		sel.label = ls
	}
	if s := q.Get("fieldSelector"); s != "" {
		fs, err := fields.ParseSelector(s)
		if err != nil {
			return sel, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		for _, req := range fs.Requirements() {
			if !h.fieldKeys[req.Field] {
				return sel, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		sel.field = fs
	}
	return sel, nil
}

func (sel selection) everything() bool { return sel.label.Empty() && sel.field.Empty() }

// predicate returns the filter of sel, or nil when it selects everything.
func (h *resourceHandler) predicate(sel selection) func(runtime.Object) bool {
	if sel.everything() {
		return nil
	}
	st := h.strategy()
	return func(obj runtime.Object) bool {
		acc, err := meta.Accessor(obj)
		if err != nil {
			return false
		}
		if !sel.label.Empty() && !sel.label.Matches(labels.Set(acc.GetLabels())) {
			return false
		}
		if !sel.field.Empty() && !sel.field.Matches(&objectFields{acc: acc, obj: obj, st: st}) {
			return false
		}
		return true
	}
}

// objectFields are an object's selectable fields, looked up as a selector asks for them: the
// metadata ones directly, the kind's own (Strategy.FieldSet) built only when one is asked for.
// Watch filters run once per event and watcher, and most select on metadata.name alone.
type objectFields struct {
	acc  metav1.Object
	obj  runtime.Object
	st   registry.Strategy
	kind fields.Set
}

func (f *objectFields) lookup(field string) (string, bool) {
	switch field {
	case "metadata.name":
		return f.acc.GetName(), true
	case "metadata.namespace":
		return f.acc.GetNamespace(), true
	}
	if f.kind == nil {
		f.kind = f.st.FieldSet(f.obj)
		if f.kind == nil {
			f.kind = fields.Set{}
		}
	}
	v, ok := f.kind[field]
	return v, ok
}

func (f *objectFields) Has(field string) bool {
	_, ok := f.lookup(field)
	return ok
}

func (f *objectFields) Get(field string) string {
	v, _ := f.lookup(field)
	return v
}

func (h *resourceHandler) list(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	q := r.URL.Query()
	sel, err := h.parseSelection(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts := store.ListOptions{ResourceVersion: q.Get("resourceVersion"), Predicate: h.predicate(sel), Continue: q.Get("continue"),
		Exact: q.Get("resourceVersionMatch") == string(metav1.ResourceVersionMatchExact)}
	if ri.namespace != "" {
		opts.Prefix = ri.namespace + "/"
	}
	// metadata.name=X lists read one key.
	if name, ok := sel.field.RequiresExactMatch("metadata.name"); ok && ri.namespace != "" {
		opts.Prefix = ri.namespace + "/" + name
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.ParseInt(l, 10, 64)
		if err != nil || n < 0 {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", l)))
			return
		}
		opts.Limit = n
	}
	res, err := h.storage.List(ctx, opts)
	if err != nil {
		writeError(w, err)
		return
	}
	if name, ok := sel.field.RequiresExactMatch("metadata.name"); ok && ri.namespace != "" {
		// The prefix also matched longer names; keep the exact one.
		kept := res.Items[:0]
		for _, it := range res.Items {
			if acc, err := meta.Accessor(it.Obj); err == nil && acc.GetName() == name {
				kept = append(kept, it)
			}
		}
		res.Items = kept
	}
	h.writeList(w, r, res)
}

func timeNow() metav1.Time { return metav1.NewTime(time.Now()) }
