package openapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-sh/skiff/internal/registry"
)

// buildDocs builds the documents of the built-in resources.
func buildDocs(t testing.TB) *Documents {
	t.Helper()
	d, err := Build(registry.Builtin(), "v1.37.2")
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return d
}

// fetch requests path from d with the given Accept header (and extra headers as key, value pairs).
func fetch(t testing.TB, d *Documents, method, path, accept string, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	return rec
}

// v2Definitions decodes the served v2 document's definitions as plain JSON values.
func v2Definitions(t testing.TB, d *Documents) map[string]map[string]any {
	t.Helper()
	rec := fetch(t, d, http.MethodGet, "/openapi/v2", "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi/v2: %d", rec.Code)
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decode v2: %v", err)
	}
	return doc.Definitions
}

// v3Document decodes one served v3 document as plain JSON values.
func v3Document(t testing.TB, d *Documents, key string) map[string]any {
	t.Helper()
	rec := fetch(t, d, http.MethodGet, "/openapi/v3/"+key, "application/json")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi/v3/%s: %d", key, rec.Code)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("decode v3 %s: %v", key, err)
	}
	return doc
}

func v3Schemas(doc map[string]any) map[string]any {
	return doc["components"].(map[string]any)["schemas"].(map[string]any)
}

// lookup walks a decoded JSON value by keys.
func lookup(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func gvkList(ext any) []map[string]any {
	var out []map[string]any
	switch list := ext.(type) {
	case []any:
		for _, e := range list {
			out = append(out, e.(map[string]any))
		}
	}
	return out
}

func hasGVK(ext any, group, version, kind string) bool {
	for _, m := range gvkList(ext) {
		if m["group"] == group && m["version"] == version && m["kind"] == kind {
			return true
		}
	}
	return false
}

func TestKindDefinitionsCarryGroupVersionKind(t *testing.T) {
	d := buildDocs(t)
	v2 := v2Definitions(t, d)
	schemas := d.Schemas()
	cases := []struct {
		definition           string
		group, version, kind string
	}{
		{"io.k8s.api.core.v1.Pod", "", "v1", "Pod"},
		{"io.k8s.api.core.v1.PodList", "", "v1", "PodList"},
		{"io.k8s.api.apps.v1.Deployment", "apps", "v1", "Deployment"},
		{"io.k8s.api.apps.v1.DeploymentList", "apps", "v1", "DeploymentList"},
		{"io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler", "autoscaling", "v1", "HorizontalPodAutoscaler"},
		{"io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler", "autoscaling", "v2", "HorizontalPodAutoscaler"},
		{"io.k8s.api.core.v1.Event", "", "v1", "Event"},
		{"io.k8s.api.events.v1.Event", "events.k8s.io", "v1", "Event"},
		{"io.k8s.api.autoscaling.v1.Scale", "autoscaling", "v1", "Scale"},
		{"io.k8s.api.policy.v1.Eviction", "policy", "v1", "Eviction"},
		{"io.k8s.api.core.v1.Binding", "", "v1", "Binding"},
		{"io.k8s.api.authentication.v1.TokenRequest", "authentication.k8s.io", "v1", "TokenRequest"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Status", "", "v1", "Status"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "apps", "v1", "DeleteOptions"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "", "v1", "DeleteOptions"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", "batch", "v1", "WatchEvent"},
	}
	for _, tc := range cases {
		t.Run(tc.definition+"/"+tc.group+"/"+tc.kind, func(t *testing.T) {
			def, ok := v2[tc.definition]
			if !ok {
				t.Fatalf("v2 has no definition %s", tc.definition)
			}
			if !hasGVK(def[extGVK], tc.group, tc.version, tc.kind) {
				t.Errorf("v2 %s: %s = %v, want to include %s/%s %s", tc.definition, extGVK, def[extGVK], tc.group, tc.version, tc.kind)
			}
			s, ok := schemas[tc.definition]
			if !ok {
				t.Fatalf("Schemas() has no definition %s", tc.definition)
			}
			if !hasGVK(s.Extensions[extGVK], tc.group, tc.version, tc.kind) {
				t.Errorf("v3 %s: %s = %v", tc.definition, extGVK, s.Extensions[extGVK])
			}
		})
	}

	// Types that are not kinds carry no GVK.
	for _, name := range []string{"io.k8s.api.core.v1.PodSpec", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"} {
		if ext, ok := v2[name][extGVK]; ok {
			t.Errorf("%s has %s %v; want none", name, extGVK, ext)
		}
	}
}

func TestFieldMergeExtensions(t *testing.T) {
	d := buildDocs(t)
	v2 := v2Definitions(t, d)
	schemas := d.Schemas()
	cases := []struct {
		definition, field string
		want              map[string]any // extension → value; nil value: must be absent
	}{
		{"io.k8s.api.core.v1.PodSpec", "containers", map[string]any{
			extPatchStrategy: "merge", extPatchMergeKey: "name", extListType: "map", extListMapKeys: []any{"name"}}},
		{"io.k8s.api.core.v1.PodSpec", "volumes", map[string]any{
			extPatchStrategy: "merge,retainKeys", extPatchMergeKey: "name", extListType: "map", extListMapKeys: []any{"name"}}},
		// Keys beyond the patch merge key come from the upstream +listMapKey markers.
		{"io.k8s.api.core.v1.Container", "ports", map[string]any{
			extPatchMergeKey: "containerPort", extListType: "map", extListMapKeys: []any{"containerPort", "protocol"}}},
		{"io.k8s.api.core.v1.ServiceSpec", "ports", map[string]any{
			extPatchMergeKey: "port", extListType: "map", extListMapKeys: []any{"port", "protocol"}}},
		{"io.k8s.api.core.v1.Container", "env", map[string]any{
			extPatchStrategy: "merge", extPatchMergeKey: "name", extListType: "map", extListMapKeys: []any{"name"}}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", map[string]any{
			extPatchStrategy: "merge", extListType: "set", extPatchMergeKey: nil}},
		{"io.k8s.api.core.v1.PodSpec", "tolerations", map[string]any{extListType: "atomic", extPatchStrategy: nil}},
		{"io.k8s.api.core.v1.PodSpec", "nodeSelector", map[string]any{extMapType: "atomic"}},
		{"io.k8s.api.apps.v1.DeploymentSpec", "strategy", map[string]any{extPatchStrategy: "retainKeys"}},
		{"io.k8s.api.core.v1.Container", "image", map[string]any{extListType: nil, extPatchStrategy: nil}},
	}
	for _, tc := range cases {
		t.Run(tc.definition+"."+tc.field, func(t *testing.T) {
			v2Field, ok := lookup(v2[tc.definition], "properties", tc.field).(map[string]any)
			if !ok {
				t.Fatalf("v2 %s has no field %s", tc.definition, tc.field)
			}
			v3Field, ok := schemas[tc.definition].Properties[tc.field]
			if !ok {
				t.Fatalf("v3 %s has no field %s", tc.definition, tc.field)
			}
			for ext, want := range tc.want {
				if got, present := v2Field[ext]; !reflect.DeepEqual(got, want) || (want == nil && present) {
					t.Errorf("v2 %s = %#v, want %#v", ext, got, want)
				}
				got, present := v3Field.Extensions[ext]
				if want == nil {
					if present {
						t.Errorf("v3 %s = %#v, want absent", ext, got)
					}
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("v3 %s = %#v, want %#v", ext, got, want)
				}
			}
		})
	}

	// +structType=atomic types say so on the definition.
	if got := v2["io.k8s.api.core.v1.LocalObjectReference"][extMapType]; got != "atomic" {
		t.Errorf("LocalObjectReference %s = %v, want atomic", extMapType, got)
	}
}

func TestScalarAndSpecialTypes(t *testing.T) {
	d := buildDocs(t)
	v2 := v2Definitions(t, d)
	schemas := d.Schemas()
	cases := []struct {
		definition string
		v2Type     string
		v2Format   string
		v3Type     string // "" when v3 publishes oneOf instead
		v3OneOf    []string
	}{
		{"io.k8s.apimachinery.pkg.util.intstr.IntOrString", "string", "int-or-string", "", []string{"integer", "string"}},
		{"io.k8s.apimachinery.pkg.api.resource.Quantity", "string", "", "", []string{"string", "number"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", "string", "date-time", "string", nil},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", "string", "date-time", "string", nil},
		{"io.k8s.apimachinery.pkg.runtime.RawExtension", "object", "", "object", nil},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", "object", "", "object", nil},
	}
	for _, tc := range cases {
		t.Run(tc.definition, func(t *testing.T) {
			def := v2[tc.definition]
			if def["type"] != tc.v2Type || (def["format"] != nil && def["format"] != tc.v2Format) || (tc.v2Format != "" && def["format"] != tc.v2Format) {
				t.Errorf("v2 = type %v format %v, want %s %q", def["type"], def["format"], tc.v2Type, tc.v2Format)
			}
			if def["description"] == "" || def["description"] == nil {
				t.Errorf("v2 %s has no description", tc.definition)
			}
			if def["properties"] != nil {
				t.Errorf("v2 %s has properties %v; a scalar has none", tc.definition, def["properties"])
			}
			s := schemas[tc.definition]
			gotType := ""
			if len(s.Type) > 0 {
				gotType = s.Type[0]
			}
			var gotOneOf []string
			for _, o := range s.OneOf {
				gotOneOf = append(gotOneOf, o.Type[0])
			}
			if gotType != tc.v3Type || !slices.Equal(gotOneOf, tc.v3OneOf) {
				t.Errorf("v3 = type %q oneOf %v, want %q %v", gotType, gotOneOf, tc.v3Type, tc.v3OneOf)
			}
		})
	}
	if got := schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].Extensions[extIntOrString]; got != true {
		t.Errorf("v3 IntOrString %s = %v, want true", extIntOrString, got)
	}
	if got := schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"].Format; got != "int-or-string" {
		t.Errorf("v3 IntOrString format = %q", got)
	}
}

func TestFieldSchemas(t *testing.T) {
	d := buildDocs(t)
	v2 := v2Definitions(t, d)
	schemas := d.Schemas()
	const (
		v2Ref = "#/definitions/"
		v3Ref = "#/components/schemas/"
	)
	cases := []struct {
		definition, field string
		// want is the v2 property with its description removed.
		want map[string]any
		// v3Ref is the definition the v3 property references (through allOf when it has a
		// description), "" when inline.
		v3Ref string
	}{
		{"io.k8s.api.apps.v1.RollingUpdateDeployment", "maxSurge",
			map[string]any{"$ref": v2Ref + "io.k8s.apimachinery.pkg.util.intstr.IntOrString"}, "io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "creationTimestamp",
			map[string]any{"$ref": v2Ref + "io.k8s.apimachinery.pkg.apis.meta.v1.Time"}, "io.k8s.apimachinery.pkg.apis.meta.v1.Time"},
		{"io.k8s.api.core.v1.Pod", "metadata",
			map[string]any{"$ref": v2Ref + "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{"io.k8s.api.core.v1.ResourceRequirements", "limits",
			map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": v2Ref + "io.k8s.apimachinery.pkg.api.resource.Quantity"}}, ""},
		{"io.k8s.api.core.v1.Secret", "data",
			map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string", "format": "byte"}}, ""},
		{"io.k8s.api.core.v1.ContainerPort", "containerPort", map[string]any{"type": "integer", "format": "int32"}, ""},
		{"io.k8s.api.core.v1.PodSpec", "activeDeadlineSeconds", map[string]any{"type": "integer", "format": "int64"}, ""},
		{"io.k8s.api.core.v1.Container", "stdin", map[string]any{"type": "boolean"}, ""},
		{"io.k8s.api.core.v1.Container", "command", map[string]any{"type": "array", "items": map[string]any{"type": "string"},
			extListType: "atomic"}, ""},
		{"io.k8s.api.core.v1.Pod", "kind", map[string]any{"type": "string"}, ""},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent", "object",
			map[string]any{"$ref": v2Ref + "io.k8s.apimachinery.pkg.runtime.RawExtension"}, "io.k8s.apimachinery.pkg.runtime.RawExtension"},
	}
	for _, tc := range cases {
		t.Run(tc.definition+"."+tc.field, func(t *testing.T) {
			prop, ok := lookup(v2[tc.definition], "properties", tc.field).(map[string]any)
			if !ok {
				t.Fatalf("v2 %s has no field %s", tc.definition, tc.field)
			}
			got := map[string]any{}
			for k, v := range prop {
				if k != "description" {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("v2 %s.%s = %v, want %v", tc.definition, tc.field, got, tc.want)
			}
			v3 := schemas[tc.definition].Properties[tc.field]
			ref := v3.Ref.String()
			if len(v3.AllOf) == 1 {
				ref = v3.AllOf[0].Ref.String()
				if v3.Description == "" {
					t.Errorf("v3 %s.%s wraps its $ref in allOf without a description", tc.definition, tc.field)
				}
			}
			if want := strings.TrimPrefix(ref, v3Ref); (tc.v3Ref == "" && ref != "") || (tc.v3Ref != "" && want != tc.v3Ref) {
				t.Errorf("v3 %s.%s references %q, want %q", tc.definition, tc.field, ref, tc.v3Ref)
			}
		})
	}
}

func TestRequiredAndDescriptions(t *testing.T) {
	d := buildDocs(t)
	v2 := v2Definitions(t, d)
	cases := []struct {
		definition string
		required   []string
	}{
		{"io.k8s.api.core.v1.Container", []string{"name"}},
		{"io.k8s.api.apps.v1.DeploymentSpec", []string{"selector", "template"}},
		{"io.k8s.api.core.v1.PodList", []string{"items"}},
		{"io.k8s.api.core.v1.Pod", nil},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", nil},
	}
	for _, tc := range cases {
		t.Run(tc.definition, func(t *testing.T) {
			var got []string
			if list, ok := v2[tc.definition]["required"].([]any); ok {
				for _, r := range list {
					got = append(got, r.(string))
				}
			}
			if !slices.Equal(got, tc.required) {
				t.Errorf("required = %v, want %v", got, tc.required)
			}
			if desc, _ := v2[tc.definition]["description"].(string); desc == "" {
				t.Errorf("%s has no description", tc.definition)
			}
		})
	}
	if got := lookup(v2["io.k8s.api.core.v1.Pod"], "description"); !strings.Contains(got.(string), "Pod is a collection of containers") {
		t.Errorf("Pod description = %q", got)
	}
	// TypeMeta is inline: its fields, with their own descriptions, sit on the kind.
	if got, _ := lookup(v2["io.k8s.api.core.v1.Pod"], "properties", "apiVersion", "description").(string); !strings.Contains(got, "APIVersion defines") {
		t.Errorf("Pod.apiVersion description = %q", got)
	}
}

func TestModelNames(t *testing.T) {
	cases := []struct {
		pkg, name, want string
	}{
		{"k8s.io/api/core/v1", "Pod", "io.k8s.api.core.v1.Pod"},
		{"k8s.io/apimachinery/pkg/apis/meta/v1", "ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"},
		{"github.com/skiff-sh/skiff/api/v1", "Thing", "com.github.skiff-sh.skiff.api.v1.Thing"},
	}
	for _, tc := range cases {
		if got := nameFromPackage(tc.pkg, tc.name); got != tc.want {
			t.Errorf("nameFromPackage(%q, %q) = %q, want %q", tc.pkg, tc.name, got, tc.want)
		}
	}
	// A type with no generated name gets the derived one.
	type unnamedModel struct{ A string }
	if got := modelName(reflect.TypeFor[unnamedModel]()); got != "com.github.skiff-sh.skiff.internal.openapi.unnamedModel" {
		t.Errorf("modelName = %q", got)
	}
}

// TestCyclicTypes checks that a type reaching itself is defined once and referenced.
func TestCyclicTypes(t *testing.T) {
	type node struct {
		Name     string  `json:"name"`
		Children []node  `json:"children,omitempty"`
		Parent   *node   `json:"parent,omitempty"`
		Extra    *string `json:"extra,omitempty"`
	}
	b := newModelBuilder(dialectV3, mergeSemantics{})
	name, err := b.define(reflect.TypeFor[node]())
	if err != nil {
		t.Fatalf("define: %v", err)
	}
	s := b.defs[name]
	parent := s.Properties["parent"]
	if got := parent.Ref.String(); got != "#/components/schemas/"+name {
		t.Errorf("parent refers to %q", got)
	}
	if got := s.Properties["children"].Items.Schema.Ref.String(); got != "#/components/schemas/"+name {
		t.Errorf("children items refer to %q", got)
	}
	if !slices.Equal(s.Required, []string{"name"}) {
		t.Errorf("required = %v", s.Required)
	}
	// Without client-go's schema the tags decide list semantics.
	type tagged struct {
		Items []node   `json:"items" patchStrategy:"merge" patchMergeKey:"name"`
		Set   []string `json:"set" patchStrategy:"merge"`
		Plain []string `json:"plain"`
	}
	name, err = b.define(reflect.TypeFor[tagged]())
	if err != nil {
		t.Fatalf("define: %v", err)
	}
	props := b.defs[name].Properties
	want := map[string]spec.Extensions{
		"items": {extPatchStrategy: "merge", extPatchMergeKey: "name", extListType: "map", extListMapKeys: []interface{}{"name"}},
		"set":   {extPatchStrategy: "merge", extListType: "set"},
		"plain": nil,
	}
	for field, ext := range want {
		if got := props[field].Extensions; !reflect.DeepEqual(got, ext) {
			t.Errorf("%s extensions = %v, want %v", field, got, ext)
		}
	}
}
