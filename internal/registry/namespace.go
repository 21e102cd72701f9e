package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type namespaceStrategy struct{ baseStrategy }

// Default labels every namespace with its own name, so namespace selectors can pick it by name.
func (namespaceStrategy) Default(obj runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

// PrepareForCreate makes a new namespace Active and guarantees the "kubernetes" finalizer,
// which the namespace controller removes once everything inside is deleted.
func (namespaceStrategy) PrepareForCreate(obj runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

// PrepareForUpdate keeps spec.finalizers: they only change through the finalize subresource.
func (namespaceStrategy) PrepareForUpdate(obj, old runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	oldNS, ok2 := old.(*corev1.Namespace)
	if !ok || !ok2 {
		return
	}
	ns.Spec.Finalizers = oldNS.Spec.Finalizers
}

func (namespaceStrategy) Validate(obj runtime.Object) field.ErrorList {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil
	}
	// The API server checks the name itself (a DNS label for namespaces).
	return validateNamespaceFinalizers(ns.Spec.Finalizers, field.NewPath("spec", "finalizers"))
}

// validateNamespaceFinalizers checks finalizer names: qualified, and unprefixed only for the
// standard "kubernetes" finalizer.
func validateNamespaceFinalizers(finalizers []corev1.FinalizerName, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		p := fldPath.Index(i)
		errs = append(errs, apimachineryvalidation.ValidateFinalizerName(string(f), p)...)
		if !strings.Contains(string(f), "/") && f != corev1.FinalizerKubernetes {
			errs = append(errs, field.Invalid(p, f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

func (s namespaceStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil
	}
	return validateNamespaceFinalizers(ns.Spec.Finalizers, field.NewPath("spec", "finalizers"))
}

// FieldSet returns status.phase, and "name", which upstream keeps for backward compatibility.
func (namespaceStrategy) FieldSet(obj runtime.Object) fields.Set {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil
	}
	return fields.Set{"status.phase": string(ns.Status.Phase), "name": ns.Name}
}
