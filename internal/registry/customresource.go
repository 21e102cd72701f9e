package registry

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// Custom describes a resource defined by a CustomResourceDefinition.
type Custom struct {
	// Schema is the version's openAPIV3Schema (nil when it has none).
	Schema *spec.Schema
	// Columns are the additionalPrinterColumns.
	Columns []apiextensionsv1.CustomResourceColumnDefinition
}

// Pruner drops the fields a schema does not know, reporting their paths (custom resources).
type Pruner interface {
	Prune(obj runtime.Object) []string
}

// CustomResources returns one resource per served version of crd; all share the storage version.
func CustomResources(crd *apiextensionsv1.CustomResourceDefinition) ([]*Resource, error) {
	var storage string
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			storage = v.Name
		}
	}
	if storage == "" {
		return nil, fmt.Errorf("crd %s has no storage version", crd.Name)
	}
	names := crd.Status.AcceptedNames
	if names.Plural == "" {
		names = crd.Spec.Names
	}
	listKind := names.ListKind
	if listKind == "" {
		listKind = names.Kind + "List"
	}
	var out []*Resource
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: names.Kind}
		listGVK := gvk.GroupVersion().WithKind(listKind)
		r := &Resource{Group: crd.Spec.Group, Version: v.Name, Resource: names.Plural, Kind: names.Kind, ListKind: listKind,
			Namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped, ShortNames: names.ShortNames, Categories: names.Categories,
			New: func() runtime.Object {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(gvk)
				return u
			},
			NewList: func() runtime.Object {
				l := &unstructured.UnstructuredList{}
				l.SetGroupVersionKind(listGVK)
				return l
			},
		}
		if v.Subresources != nil && v.Subresources.Status != nil {
			r.Subresources = append(r.Subresources, "status")
		}
		if v.Name != storage {
			r.StorageGroupVersion = &schema.GroupVersion{Group: crd.Spec.Group, Version: storage}
		}
		c := &Custom{Columns: v.AdditionalPrinterColumns}
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			s, err := toSpecSchema(v.Schema.OpenAPIV3Schema)
			if err != nil {
				return nil, fmt.Errorf("crd %s version %s schema: %w", crd.Name, v.Name, err)
			}
			c.Schema = s
		}
		r.Custom = c
		r.Strategy = customStrategy{schema: c.Schema}
		out = append(out, r)
	}
	return out, nil
}

func toSpecSchema(p *apiextensionsv1.JSONSchemaProps) (*spec.Schema, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	s := &spec.Schema{}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, err
	}
	return s, nil
}

// customStrategy applies a CRD version's structural schema: defaults, pruning, validation.
type customStrategy struct {
	baseStrategy
	schema *spec.Schema
}

func content(obj runtime.Object) map[string]interface{} {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object
	}
	return nil
}

// Default fills the schema's default values for absent fields.
func (s customStrategy) Default(obj runtime.Object) {
	if s.schema != nil {
		applyDefaults(content(obj), s.schema)
	}
}

func applyDefaults(v interface{}, sc *spec.Schema) {
	if sc == nil {
		return
	}
	switch x := v.(type) {
	case map[string]interface{}:
		for name, prop := range sc.Properties {
			prop := prop
			if _, ok := x[name]; !ok && prop.Default != nil {
				x[name] = runtime.DeepCopyJSONValue(prop.Default)
			}
			if child, ok := x[name]; ok {
				applyDefaults(child, &prop)
			}
		}
		if ap := sc.AdditionalProperties; ap != nil && ap.Schema != nil {
			for k := range x {
				if _, known := sc.Properties[k]; !known {
					applyDefaults(x[k], ap.Schema)
				}
			}
		}
	case []interface{}:
		if sc.Items != nil && sc.Items.Schema != nil {
			for _, it := range x {
				applyDefaults(it, sc.Items.Schema)
			}
		}
	}
}

// Prune removes fields the schema does not declare (unless it preserves unknown fields) and
// returns their paths, sorted, for strict field validation.
func (s customStrategy) Prune(obj runtime.Object) []string {
	if s.schema == nil {
		return nil
	}
	var pruned []string
	prune(content(obj), s.schema, "", true, &pruned)
	sort.Strings(pruned)
	return pruned
}

func preserves(sc *spec.Schema) bool {
	v, ok := sc.Extensions.GetBool("x-kubernetes-preserve-unknown-fields")
	return ok && v
}

func embedded(sc *spec.Schema) bool {
	v, ok := sc.Extensions.GetBool("x-kubernetes-embedded-resource")
	return ok && v
}

func prune(v interface{}, sc *spec.Schema, path string, root bool, pruned *[]string) {
	if sc == nil {
		return
	}
	switch x := v.(type) {
	case map[string]interface{}:
		keepMeta := root || embedded(sc)
		ap := sc.AdditionalProperties
		for k, child := range x {
			if keepMeta && (k == "apiVersion" || k == "kind" || k == "metadata") {
				continue
			}
			if prop, ok := sc.Properties[k]; ok {
				prune(child, &prop, path+"."+k, false, pruned)
				continue
			}
			if ap != nil && ap.Schema != nil {
				prune(child, ap.Schema, path+"."+k, false, pruned)
				continue
			}
			if preserves(sc) || (ap != nil && ap.Allows) {
				continue
			}
			delete(x, k)
			*pruned = append(*pruned, strings.TrimPrefix(path+"."+k, "."))
		}
	case []interface{}:
		if sc.Items != nil && sc.Items.Schema != nil {
			for i, it := range x {
				prune(it, sc.Items.Schema, fmt.Sprintf("%s[%d]", path, i), false, pruned)
			}
		}
	}
}

// Validate checks the object against the schema (apiVersion, kind and metadata are the API
// server's to check).
func (s customStrategy) Validate(obj runtime.Object) field.ErrorList {
	if s.schema == nil {
		return nil
	}
	c := content(obj)
	body := make(map[string]interface{}, len(c))
	for k, v := range c {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			body[k] = v
		}
	}
	sc := *s.schema
	// The root's declared metadata/apiVersion/kind properties were removed from body; do not
	// require them there.
	sc.Required = withoutMeta(sc.Required)
	res := validate.NewSchemaValidator(&sc, nil, "", strfmt.Default).Validate(body)
	var errs field.ErrorList
	for _, e := range res.Errors {
		errs = append(errs, toFieldError(e))
	}
	return errs
}

func withoutMeta(req []string) []string {
	var out []string
	for _, r := range req {
		if r != "apiVersion" && r != "kind" && r != "metadata" {
			out = append(out, r)
		}
	}
	return out
}

func toFieldError(err error) *field.Error {
	if ve, ok := err.(*openapierrors.Validation); ok {
		name := strings.TrimPrefix(ve.Name, ".")
		if name == "" {
			name = "<root>"
		}
		return field.Invalid(field.NewPath(name), ve.Value, strings.TrimPrefix(ve.Error(), ve.Name+" "))
	}
	return field.Invalid(field.NewPath("<root>"), nil, err.Error())
}

func (s customStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	return s.Validate(obj)
}
