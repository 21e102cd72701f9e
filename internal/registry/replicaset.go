package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type replicaSetStrategy struct{ baseStrategy }

func (replicaSetStrategy) Default(obj runtime.Object) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = new(int32(1))
	}
	defaultPodTemplateSpec(&rs.Spec.Template)
}

func (replicaSetStrategy) Validate(obj runtime.Object) field.ErrorList {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return nil
	}
	return validateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, specPath *field.Path) field.ErrorList {
	errs := validateReplicas(spec.Replicas, specPath.Child("replicas"))
	errs = append(errs, validateNonnegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	// Upstream words the empty-selector error for ReplicaSets as for Deployments.
	errs = append(errs, validateSelectorMatchesTemplate(spec.Selector, spec.Template.Labels, "deployment", specPath)...)
	return append(errs, validateLongRunningPodTemplate(&spec.Template, "ReplicaSet", specPath.Child("template"), podSpecExtras{})...)
}

func (replicaSetStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	rs, ok := obj.(*appsv1.ReplicaSet)
	oldRS, ok2 := old.(*appsv1.ReplicaSet)
	if !ok || !ok2 {
		return nil
	}
	errs := validateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))
	return append(errs, validateImmutable(rs.Spec.Selector, oldRS.Spec.Selector, field.NewPath("spec", "selector"))...)
}

// FieldSet returns the fields replica sets can be selected by.
func (replicaSetStrategy) FieldSet(obj runtime.Object) fields.Set {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return nil
	}
	return fields.Set{"status.replicas": strconv.Itoa(int(rs.Status.Replicas))}
}
