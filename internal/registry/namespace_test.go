package registry

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func TestNamespace(t *testing.T) {
	s := strategyOf(t, "", "v1", "namespaces")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	if errs := create(s, ns); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if ns.Status.Phase != corev1.NamespaceActive || !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{"kubernetes"}) {
		t.Errorf("namespace = %+v", ns)
	}
	if ns.Labels[corev1.LabelMetadataName] != "shop" {
		t.Errorf("labels = %v, want %s=shop", ns.Labels, corev1.LabelMetadataName)
	}

	withOwn := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/cleanup"}}}
	create(s, withOwn)
	if !slices.Equal(withOwn.Spec.Finalizers, []corev1.FinalizerName{"example.com/cleanup", "kubernetes"}) {
		t.Errorf("finalizers = %v", withOwn.Spec.Finalizers)
	}

	checkErrors(t, create(s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"custom"}}}),
		"Invalid spec.finalizers[0]")

	// Finalizers change only through the finalize subresource.
	edited := ns.DeepCopy()
	edited.Spec.Finalizers = nil
	checkErrors(t, update(s, edited, ns))
	if !slices.Equal(edited.Spec.Finalizers, ns.Spec.Finalizers) {
		t.Errorf("update changed finalizers to %v", edited.Spec.Finalizers)
	}

	if got := s.FieldSet(ns); !apiequality.Semantic.DeepEqual(got, fields.Set{"status.phase": "Active", "name": "shop"}) {
		t.Errorf("fields = %v", got)
	}
}
