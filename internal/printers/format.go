package printers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// objectMetaDoc holds the API documentation of ObjectMeta's fields, used as the
// description of the Name and Age columns. It is only ever read.
var objectMetaDoc = metav1.ObjectMeta{}.SwaggerDoc()

const (
	none    = "<none>"
	unset   = "<unset>"
	unknown = "<unknown>"
)

// nameColumn is the first column of almost every table: kubectl uses its "name"
// format to know which cell holds the object's name.
func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: objectMetaDoc["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: objectMetaDoc["creationTimestamp"]}
}

// column is a column shown by plain `kubectl get`.
func column(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Description: description}
}

// wideColumn is a column kubectl shows only with -o wide.
func wideColumn(name, typ, description string) metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: name, Type: typ, Priority: 1, Description: description}
}

// templateColumns are the wide CONTAINERS, IMAGES and SELECTOR columns of the
// workload kinds.
func templateColumns(selectorDoc string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{
		wideColumn("Containers", "string", "Names of each container in the template."),
		wideColumn("Images", "string", "Images referenced by each container in the template."),
		wideColumn("Selector", "string", selectorDoc),
	}
}

// containerCells lays the containers' names and images out on one line each.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i] = c.Name
		im[i] = c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// listWithMore shows at most limit items and counts the rest: "a,b,c + 2 more...".
// An empty list reads empty.
func listWithMore(items []string, limit int) string {
	if len(items) > limit {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:limit], ","), len(items)-limit)
	}
	return strings.Join(items, ",")
}

// sortedUnique returns the distinct non-empty strings of in, sorted.
func sortedUnique(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// boolPtrString prints an optional bool the way upstream's printers do.
func boolPtrString(b *bool) string {
	if b == nil {
		return unset
	}
	if *b {
		return "True"
	}
	return "False"
}

func derefInt32(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

// latest returns the later of a and b.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// selectorString formats a label selector for the SELECTOR column:
// "<none>" when it selects nothing in particular.
func selectorString(sel *metav1.LabelSelector) string {
	return metav1.FormatLabelSelector(sel)
}

// accessModesString abbreviates PV access modes in upstream's fixed order.
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := make(map[corev1.PersistentVolumeAccessMode]bool, len(modes))
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

// rowOf adapts cells, which prints one T, to Printer.Row: an object of another type is an error
// naming both types.
func rowOf[T runtime.Object](cells func(obj T, now time.Time) ([]interface{}, error)) func(runtime.Object, time.Time) ([]interface{}, error) {
	return func(obj runtime.Object, now time.Time) ([]interface{}, error) {
		t, ok := obj.(T)
		if !ok {
			var want T
			return nil, fmt.Errorf("expected %T, got %T", want, obj)
		}
		return cells(t, now)
	}
}
