package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Vendor extensions the Kubernetes clients read.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extAction        = "x-kubernetes-action"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
	extIntOrString   = "x-kubernetes-int-or-string"
)

// dialect is what differs between the definitions of OpenAPI v2 and v3 documents.
type dialect struct {
	v3        bool
	refPrefix string
}

var (
	dialectV2 = dialect{v3: false, refPrefix: "#/definitions/"}
	dialectV3 = dialect{v3: true, refPrefix: "#/components/schemas/"}
)

// swaggerDocer is implemented by the k8s.io/api and metav1 types: field descriptions keyed by JSON
// name, the type's own under "".
type swaggerDocer interface {
	SwaggerDoc() map[string]string
}

// schemaTyper is implemented by types that marshal to a JSON scalar (Quantity, IntOrString, Time,
// MicroTime, Duration).
type schemaTyper interface {
	OpenAPISchemaType() []string
	OpenAPISchemaFormat() string
}

// oneOfTyper is implemented by scalar types that v3 publishes as a oneOf of JSON types.
type oneOfTyper interface {
	OpenAPIV3OneOfTypes() []string
}

// Descriptions of the types whose docs live only in Go comments upstream.
var (
	rawExtensionType = reflect.TypeFor[runtime.RawExtension]()
	fieldsV1Type     = reflect.TypeFor[metav1.FieldsV1]()
	scalarDocs       = map[reflect.Type]string{
		reflect.TypeFor[resource.Quantity]():  "Quantity is a fixed-point representation of a number, serialized as a string such as \"100m\", \"1.5Gi\" or \"2\": a signed decimal number with an optional SI (k, M, G, T, P, E; m for milli) or binary (Ki, Mi, Gi, Ti, Pi, Ei) suffix, or a decimal exponent (e.g. \"1e3\").",
		reflect.TypeFor[intstr.IntOrString](): "IntOrString is a type that can hold an int32 or a string. When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type, so a field can accept either a name or a number.",
		reflect.TypeFor[metav1.Time]():        "Time is a timestamp, serialized as an RFC 3339 string with second precision.",
		reflect.TypeFor[metav1.MicroTime]():   "MicroTime is a timestamp, serialized as an RFC 3339 string with microsecond precision.",
		reflect.TypeFor[metav1.Duration]():    "Duration is a length of time, serialized as a Go duration string such as \"1h30m\".",
		rawExtensionType:                      "RawExtension holds an embedded object of any kind, serialized as the object's own JSON.",
	}
)

// modelBuilder turns Go types into OpenAPI definitions by reflection, in one dialect.
type modelBuilder struct {
	dialect   dialect
	semantics mergeSemantics
	defs      map[string]*spec.Schema
	types     map[string]reflect.Type
	// deps records which definitions each definition references, to cut per-group-version
	// documents down to what they use.
	deps map[string]map[string]struct{}
}

func newModelBuilder(d dialect, semantics mergeSemantics) *modelBuilder {
	return &modelBuilder{
		dialect:   d,
		semantics: semantics,
		defs:      map[string]*spec.Schema{},
		types:     map[string]reflect.Type{},
		deps:      map[string]map[string]struct{}{},
	}
}

// define makes sure the named type t (or what it points to) has a definition and returns its name.
func (b *modelBuilder) define(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return "", fmt.Errorf("type %v has no name to define", t)
	}
	name := modelName(t)
	if prev, ok := b.types[name]; ok {
		if prev != t {
			return "", fmt.Errorf("definition %s is claimed by both %v and %v", name, prev, t)
		}
		return name, nil
	}
	b.types[name] = t
	// Register before filling in, so that a type reaching itself (directly or not) finds its
	// own name and refers to it instead of recursing forever.
	s := &spec.Schema{}
	b.defs[name] = s
	b.deps[name] = map[string]struct{}{}
	if err := b.fillDefinition(s, t, name); err != nil {
		return "", fmt.Errorf("definition %s: %w", name, err)
	}
	return name, nil
}

// definesNamed reports whether t is published as a definition of its own rather than inline.
func definesNamed(t reflect.Type) bool {
	if t.Name() == "" || t.PkgPath() == "" {
		return false
	}
	if _, ok := reflect.New(t).Interface().(schemaTyper); ok {
		return true
	}
	return t.Kind() == reflect.Struct
}

func (b *modelBuilder) fillDefinition(s *spec.Schema, t reflect.Type, name string) error {
	docs := swaggerDocs(t)
	description := docs[""]
	if d, ok := scalarDocs[t]; ok && description == "" {
		description = d
	}
	switch {
	case t == rawExtensionType || t == fieldsV1Type:
		// Both hold raw JSON objects behind custom marshalling.
		s.Type = spec.StringOrArray{"object"}
	case isSchemaTyper(t):
		typer := reflect.New(t).Interface().(schemaTyper)
		oneOf, hasOneOf := reflect.New(t).Interface().(oneOfTyper)
		if b.dialect.v3 && hasOneOf {
			for _, typ := range oneOf.OpenAPIV3OneOfTypes() {
				s.OneOf = append(s.OneOf, spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}}})
			}
		} else {
			s.Type = spec.StringOrArray(typer.OpenAPISchemaType())
		}
		s.Format = typer.OpenAPISchemaFormat()
		if b.dialect.v3 && s.Format == "int-or-string" {
			s.Extensions = spec.Extensions{extIntOrString: true}
		}
	case t.Kind() == reflect.Struct:
		s.Type = spec.StringOrArray{"object"}
		props := map[string]spec.Schema{}
		var required []string
		if err := b.addFields(props, &required, t, name); err != nil {
			return err
		}
		if len(props) > 0 {
			s.Properties = props
		}
		sort.Strings(required)
		s.Required = required
		if ext := b.semantics.typeExtensions(name); ext != nil {
			s.Extensions = spec.Extensions(ext)
		}
	default:
		inline, err := b.schemaFor(t, name)
		if err != nil {
			return err
		}
		*s = inline
	}
	s.Description = description
	return nil
}

// addFields adds the JSON properties of struct t to props, flattening embedded and ",inline"
// structs as encoding/json does. owner is the definition the properties belong to.
func (b *modelBuilder) addFields(props map[string]spec.Schema, required *[]string, t reflect.Type, owner string) error {
	docs := swaggerDocs(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		jsonName, opts, _ := strings.Cut(tag, ",")
		inline := hasOption(opts, "inline")
		if (f.Anonymous && jsonName == "") || inline {
			et := f.Type
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if err := b.addFields(props, required, et, owner); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if jsonName == "" {
			jsonName = f.Name
		}
		prop, err := b.schemaFor(f.Type, owner)
		if err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		ext := b.fieldExtensions(f, owner, jsonName)
		props[jsonName] = b.decorate(prop, docs[jsonName], ext)
		if !hasOption(opts, "omitempty") && !hasOption(opts, "omitzero") {
			*required = append(*required, jsonName)
		}
	}
	return nil
}

// fieldExtensions collects the patch and merge extensions of one struct field.
func (b *modelBuilder) fieldExtensions(f reflect.StructField, owner, jsonName string) spec.Extensions {
	ext := spec.Extensions{}
	if v := f.Tag.Get("patchStrategy"); v != "" {
		ext[extPatchStrategy] = v
	}
	if v := f.Tag.Get("patchMergeKey"); v != "" {
		ext[extPatchMergeKey] = v
	}
	semantics, known := b.semantics.fieldExtensions(owner, jsonName)
	if !known && isList(f.Type) {
		semantics = listExtensionsFromTags(f.Tag)
	}
	for k, v := range semantics {
		ext[k] = v
	}
	if len(ext) == 0 {
		return nil
	}
	return ext
}

// decorate attaches a field's description and extensions to its schema. In v3 a $ref may have no
// siblings, so upstream wraps it in a one-element allOf; v2 puts them beside the $ref.
func (b *modelBuilder) decorate(s spec.Schema, description string, ext spec.Extensions) spec.Schema {
	if description == "" && len(ext) == 0 {
		return s
	}
	if b.dialect.v3 && s.Ref.String() != "" {
		s = spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{s}}}
	}
	s.Description = description
	if len(ext) > 0 {
		s.Extensions = ext
	}
	return s
}

// schemaFor returns the schema of a value of type t appearing inside definition owner: a $ref for
// named structs and scalar wrappers, the inline schema otherwise.
func (b *modelBuilder) schemaFor(t reflect.Type, owner string) (spec.Schema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if definesNamed(t) {
		name, err := b.define(t)
		if err != nil {
			return spec.Schema{}, err
		}
		b.deps[owner][name] = struct{}{}
		return b.ref(name), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return scalar("boolean", ""), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16:
		return scalar("integer", "int32"), nil
	case reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return scalar("integer", "int64"), nil
	case reflect.Float32:
		return scalar("number", "float"), nil
	case reflect.Float64:
		return scalar("number", "double"), nil
	case reflect.String:
		return scalar("string", ""), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return scalar("string", "byte"), nil
		}
		items, err := b.schemaFor(t.Elem(), owner)
		if err != nil {
			return spec.Schema{}, err
		}
		return spec.Schema{SchemaProps: spec.SchemaProps{
			Type:  spec.StringOrArray{"array"},
			Items: &spec.SchemaOrArray{Schema: &items},
		}}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return spec.Schema{}, fmt.Errorf("map key %v is not a string", t.Key())
		}
		values, err := b.schemaFor(t.Elem(), owner)
		if err != nil {
			return spec.Schema{}, err
		}
		return spec.Schema{SchemaProps: spec.SchemaProps{
			Type:                 spec.StringOrArray{"object"},
			AdditionalProperties: &spec.SchemaOrBool{Allows: true, Schema: &values},
		}}, nil
	case reflect.Interface:
		// Any JSON value.
		return spec.Schema{}, nil
	case reflect.Struct:
		// An anonymous struct: published inline.
		s := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}}}
		props := map[string]spec.Schema{}
		var required []string
		if err := b.addFields(props, &required, t, owner); err != nil {
			return spec.Schema{}, err
		}
		s.Properties = props
		sort.Strings(required)
		s.Required = required
		return s, nil
	default:
		return spec.Schema{}, fmt.Errorf("type %v of kind %v has no JSON form", t, t.Kind())
	}
}

func (b *modelBuilder) ref(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(b.dialect.refPrefix + name)}}
}

// addGVK records that definition name is the schema of gvk, as x-kubernetes-group-version-kind
// (a list, kept sorted so that documents are byte-for-byte stable).
func (b *modelBuilder) addGVK(name, group, version, kind string) {
	s := b.defs[name]
	if s.Extensions == nil {
		s.Extensions = spec.Extensions{}
	}
	list, _ := s.Extensions[extGVK].([]interface{})
	for _, e := range list {
		m := e.(map[string]interface{})
		if m["group"] == group && m["version"] == version && m["kind"] == kind {
			return
		}
	}
	list = append(list, map[string]interface{}{"group": group, "version": version, "kind": kind})
	sort.Slice(list, func(i, j int) bool {
		a, c := list[i].(map[string]interface{}), list[j].(map[string]interface{})
		if a["group"] != c["group"] {
			return a["group"].(string) < c["group"].(string)
		}
		if a["version"] != c["version"] {
			return a["version"].(string) < c["version"].(string)
		}
		return a["kind"].(string) < c["kind"].(string)
	})
	s.Extensions[extGVK] = list
}

// closure returns roots and every definition they reach.
func (b *modelBuilder) closure(roots []string) map[string]struct{} {
	seen := map[string]struct{}{}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := seen[name]; ok {
			continue
		}
		seen[name] = struct{}{}
		for dep := range b.deps[name] {
			stack = append(stack, dep)
		}
	}
	return seen
}

func scalar(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

func swaggerDocs(t reflect.Type) map[string]string {
	if d, ok := reflect.New(t).Interface().(swaggerDocer); ok {
		return d.SwaggerDoc()
	}
	return nil
}

func isSchemaTyper(t reflect.Type) bool {
	_, ok := reflect.New(t).Interface().(schemaTyper)
	return ok
}

func isList(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
