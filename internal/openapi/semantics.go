package openapi

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// The merge semantics of lists and maps (+listType, +listMapKey, +mapType, +structType markers)
// live in comments of the k8s.io/api sources, which reflection cannot see. client-go ships them,
// as a structured-merge-diff schema keyed by the same definition names, for server-side apply;
// mergeSemantics reads them from there so that, for example, a Service's ports are keyed by
// [port, protocol] as upstream publishes, not just by the patchMergeKey "port". Types that schema
// does not know fall back to the struct tags (see listExtensionsFromTags).
type mergeSemantics struct {
	schema *smdschema.Schema // nil when client-go's schema could not be loaded
}

// loadMergeSemantics gets client-go's built-in structured-merge-diff schema. client-go only
// exposes it through a type converter, so it converts an empty Pod and takes the schema of the
// result.
func loadMergeSemantics() (mergeSemantics, error) {
	scheme := runtime.NewScheme()
	scheme.AddKnownTypes(corev1.SchemeGroupVersion, &corev1.Pod{})
	converter := applyconfigurations.NewTypeConverter(scheme)
	pod := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}}
	typed, err := converter.ObjectToTyped(pod)
	if err != nil {
		return mergeSemantics{}, fmt.Errorf("load client-go merge schema: %w", err)
	}
	return mergeSemantics{schema: typed.Schema()}, nil
}

// typeExtensions returns the definition-level extensions of the named type: upstream marks
// +structType=atomic types with x-kubernetes-map-type: atomic.
func (m mergeSemantics) typeExtensions(name string) map[string]interface{} {
	if m.schema == nil {
		return nil
	}
	def, ok := m.schema.FindNamedType(name)
	if !ok || def.Map == nil || def.Map.ElementRelationship != smdschema.Atomic {
		return nil
	}
	return map[string]interface{}{extMapType: "atomic"}
}

// fieldExtensions returns the list and map extensions of field jsonName of the named type, and
// whether the type is known at all (false means: use the struct tags instead).
func (m mergeSemantics) fieldExtensions(owner, jsonName string) (map[string]interface{}, bool) {
	if m.schema == nil {
		return nil, false
	}
	def, ok := m.schema.FindNamedType(owner)
	if !ok || def.Map == nil {
		return nil, false
	}
	field, ok := def.Map.FindField(jsonName)
	if !ok {
		return nil, false
	}
	atom, ok := m.schema.Resolve(field.Type)
	if !ok {
		return nil, false
	}
	switch {
	case atom.List != nil:
		switch atom.List.ElementRelationship {
		case smdschema.Associative:
			if len(atom.List.Keys) > 0 {
				return map[string]interface{}{
					extListType:    "map",
					extListMapKeys: stringsToAny(atom.List.Keys),
				}, true
			}
			return map[string]interface{}{extListType: "set"}, true
		default:
			return map[string]interface{}{extListType: "atomic"}, true
		}
	case atom.Map != nil && atom.Map.ElementRelationship == smdschema.Atomic:
		// Named struct types carry their own atomicity; only say it on the field when the
		// field itself overrides it or is an inline map.
		if field.Type.NamedType == nil || field.Type.ElementRelationship != nil {
			return map[string]interface{}{extMapType: "atomic"}, true
		}
	}
	return nil, true
}

// listExtensionsFromTags derives list semantics from the patch struct tags, for types client-go's
// schema does not describe: a merge key makes a map list keyed by it, merge without a key a set,
// anything else stays atomic (the default, so nothing is said).
func listExtensionsFromTags(tag reflect.StructTag) map[string]interface{} {
	strategies := strings.Split(tag.Get("patchStrategy"), ",")
	merge := false
	for _, s := range strategies {
		if s == "merge" {
			merge = true
		}
	}
	if !merge {
		return nil
	}
	if key := tag.Get("patchMergeKey"); key != "" {
		return map[string]interface{}{extListType: "map", extListMapKeys: []interface{}{key}}
	}
	return map[string]interface{}{extListType: "set"}
}

func stringsToAny(ss []string) []interface{} {
	out := make([]interface{}, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
