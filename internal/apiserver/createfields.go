package apiserver

import (
	"fmt"
	"reflect"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/skiff-sh/skiff/internal/ownedfields"
)

// createFields computes the managedFields of a plain create: one Update
// manager, no managedFields sent. Upstream's field manager gets there through
// a chain of eight managers that decode and re-encode managedFields, convert
// versions, type and validate an empty "live" object and the new one on every
// request; for a create all of that reduces to the diff of the new object
// against an empty one of its kind, minus the metadata no manager owns.
// internal/ownedfields computes that diff straight from the Go object; when it
// declines, structured-merge-diff's comparison does. On a ConfigMap
// (BenchmarkCreateManagedFields, with the object's preparation) that is ~6 µs,
// the comparison ~25 and upstream's chain ~45, and creates are the API
// server's hottest write. TestCreateFieldsMatchesFieldManager holds the result
// to the generic path's output, and TestCreateFieldsWalkMatchesComparison the
// walker to the comparison, byte for byte, for every built-in kind.
type createFields struct {
	gvk        schema.GroupVersionKind
	apiVersion fieldpath.APIVersion
	// empty is the typed empty object of the kind, the live side of the diff:
	// fields it already has with the new object's value are nobody's.
	empty *typed.TypedValue
	// schema and typeRef are the kind's structured-merge-diff type, as the
	// type converter resolved it for empty.
	schema  *smdschema.Schema
	typeRef smdschema.TypeRef
	// walker computes the diff straight from the Go object; when it
	// declines, the comparison of empty with the object decides.
	walker *ownedfields.Walker
}

// unownedFields are the fields no manager owns, as upstream strips them.
var unownedFields = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("metadata"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "clusterName"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
)

func newCreateFields(tc managedfields.TypeConverter, empty runtime.Object, gvk schema.GroupVersionKind) (*createFields, error) {
	empty.GetObjectKind().SetGroupVersionKind(gvk)
	tv, err := tc.ObjectToTyped(empty, typed.AllowDuplicates)
	if err != nil {
		return nil, fmt.Errorf("typing an empty %s: %w", gvk.Kind, err)
	}
	c := &createFields{gvk: gvk, apiVersion: fieldpath.APIVersion(gvk.GroupVersion().String()), empty: tv,
		schema: tv.Schema(), typeRef: tv.TypeRef()}
	if t := reflect.TypeOf(empty); t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		c.walker = ownedfields.New(c.schema, c.typeRef, t.Elem())
	}
	return c, nil
}

// set writes obj's managedFields for a create by manager. It returns false,
// having changed nothing, when the generic field manager must decide: the
// object brings managedFields of its own, is not of this kind and version, or
// does not fit the schema.
func (c *createFields) set(obj runtime.Object, manager string, now time.Time) bool {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	if len(acc.GetManagedFields()) > 0 || obj.GetObjectKind().GroupVersionKind() != c.gvk {
		return false
	}
	if _, ok := obj.(runtime.Unstructured); ok {
		return false // reflection below walks Go structs
	}
	raw, ok := c.fastOwned(obj)
	if !ok {
		if raw, ok = c.comparedOwned(obj); !ok {
			return false
		}
	}
	if raw == nil {
		acc.SetManagedFields(nil)
		return true
	}
	acc.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager:    manager,
		Operation:  metav1.ManagedFieldsOperationUpdate,
		APIVersion: string(c.apiVersion),
		Time:       &metav1.Time{Time: now.UTC()},
		FieldsType: "FieldsV1",
		FieldsV1:   &metav1.FieldsV1{Raw: raw},
	}})
	return true
}

// fastOwned is the owned fields' JSON from the walker, nil for none; false when
// there is no walker or it declined.
func (c *createFields) fastOwned(obj runtime.Object) ([]byte, bool) {
	if c.walker == nil {
		return nil, false
	}
	return c.walker.Walk(obj)
}

// comparedOwned is the owned fields' JSON from structured-merge-diff's
// comparison of obj with the empty object, nil for none; false when obj does
// not fit the schema.
func (c *createFields) comparedOwned(obj runtime.Object) ([]byte, bool) {
	// Typed without the converter's validation walk (43% of the work): the
	// object is a Go struct of the very types the schema was made from and has
	// passed the kind's validation; a value that still did not fit would fail
	// the comparison below, and the generic path would decide.
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, false
	}
	tv := typed.AsTypedUnvalidated(v, c.schema, c.typeRef)
	cmp, err := c.empty.Compare(tv)
	if err != nil {
		return nil, false
	}
	owned := cmp.Added.Union(cmp.Modified).Difference(unownedFields)
	if owned.Empty() {
		return nil, true
	}
	raw, err := owned.ToJSON()
	if err != nil {
		return nil, false
	}
	return raw, true
}
