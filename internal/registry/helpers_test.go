package registry

import (
	"slices"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Test helpers shared by the per-kind tests.

// strategyOf returns the strategy Builtin wires for a resource, so tests exercise the real table.
func strategyOf(t *testing.T, group, version, resource string) Strategy {
	t.Helper()
	for _, r := range Builtin() {
		if r.Group == group && r.Version == version && r.Resource == resource {
			return r.Strategy
		}
	}
	t.Fatalf("no built-in resource %s/%s %s", group, version, resource)
	return nil
}

// create runs the create path the API server runs.
func create(s Strategy, obj runtime.Object) field.ErrorList {
	s.PrepareForCreate(obj)
	s.Default(obj)
	return s.Validate(obj)
}

// update runs the update path the API server runs.
func update(s Strategy, obj, old runtime.Object) field.ErrorList {
	s.PrepareForUpdate(obj, old)
	s.Default(obj)
	return s.ValidateUpdate(obj, old)
}

var shortErrorTypes = map[field.ErrorType]string{
	field.ErrorTypeNotFound:     "NotFound",
	field.ErrorTypeRequired:     "Required",
	field.ErrorTypeDuplicate:    "Duplicate",
	field.ErrorTypeInvalid:      "Invalid",
	field.ErrorTypeNotSupported: "NotSupported",
	field.ErrorTypeForbidden:    "Forbidden",
	field.ErrorTypeTooLong:      "TooLong",
	field.ErrorTypeTooMany:      "TooMany",
	field.ErrorTypeInternal:     "Internal",
}

// errorSummary renders errors as sorted "Type path" strings, e.g. "Required spec.containers".
func errorSummary(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, shortErrorTypes[e.Type]+" "+e.Field)
	}
	sort.Strings(out)
	return out
}

// checkErrors asserts that errs are exactly want, given as "Type path" strings in any order.
func checkErrors(t *testing.T, errs field.ErrorList, want ...string) {
	t.Helper()
	got := errorSummary(errs)
	want = slices.Clone(want)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("errors = %q\nwant     %q\nfull: %v", got, want, errs)
	}
}

// checkDetail asserts that the error at path mentions detail.
func checkDetail(t *testing.T, errs field.ErrorList, path, detail string) {
	t.Helper()
	for _, e := range errs {
		if e.Field == path && e.Detail == detail {
			return
		}
	}
	t.Errorf("no error at %s with detail %q in %v", path, detail, errs)
}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "default", UID: "6b1c1f4e-0000-4000-8000-000000000001"}
}

// minimalPodSpec is the smallest valid pod spec a user writes.
func minimalPodSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}}
}

// minimalTemplate is the smallest valid pod template of a workload selecting app=web.
func minimalTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       minimalPodSpec(),
	}
}

func webSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}
