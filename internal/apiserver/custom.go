package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/klog/v2"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-sh/skiff/internal/printers"
	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/store"
)

// customRoutes are the handlers of the custom resources currently defined; replaced as a whole
// whenever a CustomResourceDefinition changes.
type customRoutes struct {
	handlers map[schema.GroupVersionResource]*resourceHandler
	// byCRD holds, per CRD name, its resources and the storage they share.
	byCRD map[string]*installedCRD
}

type installedCRD struct {
	resources []*registry.Resource
	storage   *store.Storage
	cancel    context.CancelFunc
	prefix    string
}

func (s *Server) customHandler(gvr schema.GroupVersionResource) *resourceHandler {
	if cr := s.custom.Load(); cr != nil {
		return cr.handlers[gvr]
	}
	return nil
}

var crdGR = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}

// watchCRDs serves the resources of every CustomResourceDefinition, following changes.
func (s *Server) watchCRDs(ctx context.Context) {
	crdh := s.byGR[crdGR]
	if crdh == nil {
		return
	}
	for ctx.Err() == nil {
		w, err := crdh.storage.Watch(ctx, store.WatchOptions{})
		if err != nil {
			klog.ErrorS(err, "watching CustomResourceDefinitions")
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			crd, ok := ev.Object.Obj.(*apiextensionsv1.CustomResourceDefinition)
			if !ok {
				continue
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if err := s.installCRD(ctx, crd); err != nil {
					klog.ErrorS(err, "serving CustomResourceDefinition", "crd", crd.Name)
				}
			case watch.Deleted:
				s.removeCRD(ctx, crd)
			}
		}
		w.Stop()
	}
}

func (s *Server) copyRoutes() *customRoutes {
	out := &customRoutes{handlers: map[schema.GroupVersionResource]*resourceHandler{}, byCRD: map[string]*installedCRD{}}
	if cur := s.custom.Load(); cur != nil {
		for k, v := range cur.handlers {
			out.handlers[k] = v
		}
		for k, v := range cur.byCRD {
			out.byCRD[k] = v
		}
	}
	return out
}

// installCRD (re)builds the handlers of crd's served versions over one shared storage.
func (s *Server) installCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) error {
	s.customMu.Lock()
	defer s.customMu.Unlock()
	rs, err := registry.CustomResources(crd)
	if err != nil {
		return err
	}
	routes := s.copyRoutes()
	prefix := "/registry/" + crd.Spec.Group + "/" + crd.Spec.Names.Plural + "/"
	inst := routes.byCRD[crd.Name]
	if inst == nil || inst.prefix != prefix {
		if inst != nil {
			inst.cancel()
		}
		sctx, cancel := context.WithCancel(ctx)
		st := store.New(s.cfg.Etcd, prefix, schema.GroupResource{Group: crd.Spec.Group, Resource: crd.Spec.Names.Plural}, unstructuredCodec{}, 2000)
		st.SetSingleWriter(s.cfg.SingleWriter)
		if err := st.Start(sctx); err != nil {
			cancel()
			return err
		}
		inst = &installedCRD{storage: st, cancel: cancel, prefix: prefix}
	} else {
		for _, r := range inst.resources {
			delete(routes.handlers, r.GVR())
		}
		inst = &installedCRD{storage: inst.storage, cancel: inst.cancel, prefix: prefix}
	}
	inst.resources = rs
	var storageRes *registry.Resource
	for _, r := range rs {
		if r.StorageGroupVersion == nil {
			storageRes = r
		}
	}
	for _, r := range rs {
		h, err := newResourceHandler(s, r)
		if err != nil {
			return err
		}
		h.storage = inst.storage
		if r.StorageGroupVersion != nil {
			h.conv = apiVersionConversion(r.GroupVersion(), *r.StorageGroupVersion)
			if storageRes != nil {
				h.storageHandler = &resourceHandler{s: s, res: storageRes, custom: true}
			}
		}
		routes.handlers[r.GVR()] = h
	}
	routes.byCRD[crd.Name] = inst
	s.custom.Store(routes)
	s.rebuildDiscovery(routes)
	return nil
}

// removeCRD stops serving crd and deletes its objects, as upstream's CRD finalizer does.
func (s *Server) removeCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) {
	s.customMu.Lock()
	defer s.customMu.Unlock()
	routes := s.copyRoutes()
	inst := routes.byCRD[crd.Name]
	if inst == nil {
		return
	}
	for _, r := range inst.resources {
		delete(routes.handlers, r.GVR())
	}
	delete(routes.byCRD, crd.Name)
	s.custom.Store(routes)
	s.rebuildDiscovery(routes)
	inst.cancel()
	if _, err := s.cfg.Etcd.Delete(ctx, inst.prefix, clientv3WithPrefix()); err != nil {
		klog.ErrorS(err, "deleting custom resources", "crd", crd.Name)
	}
}

func (s *Server) rebuildDiscovery(routes *customRoutes) {
	all := append(append([]*registry.Resource(nil), s.cfg.Resources...), ReviewResources()...)
	names := make([]string, 0, len(routes.byCRD))
	for n := range routes.byCRD {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		all = append(all, routes.byCRD[n].resources...)
	}
	s.discovery.Store(buildDiscovery(groupsOf(all), all))
}

// apiVersionConversion serves another version of a custom resource by rewriting apiVersion
// (CRD conversion strategy None).
func apiVersionConversion(served, stored schema.GroupVersion) *conversion {
	set := func(gv schema.GroupVersion) func(runtime.Object) runtime.Object {
		return func(obj runtime.Object) runtime.Object {
			u := obj.(*unstructured.Unstructured).DeepCopy()
			u.SetAPIVersion(gv.String())
			return u
		}
	}
	return &conversion{toStorage: set(stored), fromStorage: set(served)}
}

// unstructuredCodec stores custom resources as JSON.
type unstructuredCodec struct{}

func (unstructuredCodec) Encode(obj runtime.Object) ([]byte, error) { return json.Marshal(obj) }

func (unstructuredCodec) Decode(data []byte) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u, nil
}

// decodeUnstructured decodes a custom resource body, checking its apiVersion and kind.
func decodeUnstructured(contentType string, body []byte, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	if mediaType(contentType) == protobufType {
		return nil, unsupportedMediaType(contentType)
	}
	data, err := bodyToJSON(contentType, body)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		// apiVersion/kind may be missing on updates; decode the map directly then.
		m := map[string]interface{}{}
		if jerr := json.Unmarshal(data, &m); jerr != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding request body: %v", err))
		}
		u.Object = m
	}
	if got := u.GroupVersionKind(); (got.Kind != "" && got.Kind != gvk.Kind) || (got.Version != "" && got.GroupVersion() != gvk.GroupVersion()) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", got.GroupVersion(), gvk.GroupVersion()))
	}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// prune drops unknown fields of custom resources; Strict field validation rejects them instead.
func (h *resourceHandler) prune(obj runtime.Object, fieldValidation string) ([]string, error) {
	p, ok := h.strategy().(registry.Pruner)
	if !ok {
		return nil, nil
	}
	fields := p.Prune(obj)
	if len(fields) == 0 || fieldValidation == "Ignore" {
		return nil, nil
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = fmt.Sprintf("unknown field %q", f)
	}
	if fieldValidation == "Strict" {
		return nil, apierrors.NewBadRequest("strict decoding error: " + strings.Join(msgs, ", "))
	}
	return msgs, nil
}

// customFieldManager tracks managed fields of a custom resource with its schema's types, or
// deduced types when the schema cannot be used.
func customFieldManager(r *registry.Resource, subresource string) (*managedfields.FieldManager, error) {
	tc := managedfields.NewDeducedTypeConverter()
	if r.Custom != nil && r.Custom.Schema != nil {
		sc := *r.Custom.Schema
		sc.Extensions = spec.Extensions{}
		for k, v := range r.Custom.Schema.Extensions {
			sc.Extensions[k] = v
		}
		sc.Extensions["x-kubernetes-group-version-kind"] = []interface{}{map[string]interface{}{"group": r.Group, "version": r.Version, "kind": r.Kind}}
		// The object's envelope is implicit in CRD schemas; the field manager must know it.
		sc.Properties = map[string]spec.Schema{}
		for k, v := range r.Custom.Schema.Properties {
			sc.Properties[k] = v
		}
		str := *spec.StringProperty()
		strMap := *spec.MapProperty(spec.StringProperty())
		meta := *spec.MapProperty(nil)
		meta.AdditionalProperties = nil
		meta.Properties = map[string]spec.Schema{"name": str, "namespace": str, "generateName": str, "labels": strMap, "annotations": strMap}
		meta.Extensions = spec.Extensions{"x-kubernetes-preserve-unknown-fields": true}
		sc.Properties["apiVersion"], sc.Properties["kind"], sc.Properties["metadata"] = str, str, meta
		if c, err := managedfields.NewTypeConverter(map[string]*spec.Schema{r.Group + "." + r.Version + "." + r.Kind: &sc}, true); err == nil {
			tc = c
		}
	}
	return managedfields.NewDefaultCRDFieldManager(tc, unstructuredConverter{}, strategyDefaulter{r.Strategy}, unstructuredCreater{},
		r.GVK(), r.GroupVersion(), subresource, nil)
}

type unstructuredConverter struct{}

func (unstructuredConverter) Convert(in, out, _ interface{}) error {
	return fmt.Errorf("unstructured conversion from %T to %T is not supported", in, out)
}

func (unstructuredConverter) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("cannot convert %T", in)
	}
	out := u.DeepCopy()
	if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{u.GroupVersionKind()}); ok {
		out.SetGroupVersionKind(target)
	}
	return out, nil
}

func (unstructuredConverter) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// customPrinter builds the table of a custom resource from its additionalPrinterColumns.
func customPrinter(r *registry.Resource) printers.Printer {
	if r.Custom == nil || len(r.Custom.Columns) == 0 {
		return printers.Default()
	}
	type col struct {
		jp  *jsonpath.JSONPath
		typ string
	}
	cols := []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."}}
	var parsed []col
	for _, c := range r.Custom.Columns {
		jp := jsonpath.New(c.Name).AllowMissingKeys(true)
		if err := jp.Parse(fmt.Sprintf("{%s}", c.JSONPath)); err != nil {
			continue
		}
		cols = append(cols, metav1.TableColumnDefinition{Name: c.Name, Type: c.Type, Format: c.Format, Description: c.Description, Priority: c.Priority})
		parsed = append(parsed, col{jp: jp, typ: c.Type})
	}
	return printers.Printer{Columns: cols, Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("unexpected %T", obj)
		}
		cells := []interface{}{u.GetName()}
		for _, c := range parsed {
			results, err := c.jp.FindResults(u.Object)
			if err != nil || len(results) == 0 || len(results[0]) == 0 {
				cells = append(cells, nil)
				continue
			}
			v := results[0][0].Interface()
			if c.typ == "date" {
				if s, ok := v.(string); ok {
					if t, err := time.Parse(time.RFC3339, s); err == nil {
						v = duration.HumanDuration(now.Sub(t))
					}
				}
			}
			cells = append(cells, v)
		}
		return cells, nil
	}}
}
