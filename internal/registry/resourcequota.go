package registry

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedQuotaScopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
	corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopePriorityClass,
	corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeVolumeAttributesClass}

type resourceQuotaStrategy struct{ baseStrategy }

func (resourceQuotaStrategy) Default(obj runtime.Object) {
	if q, ok := obj.(*corev1.ResourceQuota); ok {
		roundUpResourceList(q.Spec.Hard)
	}
}

func (resourceQuotaStrategy) Validate(obj runtime.Object) field.ErrorList {
	q, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return nil
	}
	return validateResourceQuotaSpec(&q.Spec)
}

// validateResourceQuotaSpec checks hard limits (non-negative, qualified names) and scopes.
func validateResourceQuotaSpec(spec *corev1.ResourceQuotaSpec) field.ErrorList {
	var errs field.ErrorList
	hardPath := field.NewPath("spec", "hard")
	for name, q := range spec.Hard {
		p := hardPath.Key(string(name))
		errs = append(errs, validateQualifiedName(string(name), p)...)
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), isNegativeErrorMsg))
		}
	}
	scopes := sets.New[corev1.ResourceQuotaScope]()
	for _, s := range spec.Scopes {
		errs = append(errs, validateEnum(s, supportedQuotaScopes, field.NewPath("spec", "scopes"))...)
		scopes.Insert(s)
	}
	if scopes.HasAll(corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort) ||
		scopes.HasAll(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "scopes"), spec.Scopes, "conflicting scopes"))
	}
	return errs
}

func (resourceQuotaStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	q, ok := obj.(*corev1.ResourceQuota)
	oldQ, ok2 := old.(*corev1.ResourceQuota)
	if !ok || !ok2 {
		return nil
	}
	errs := validateResourceQuotaSpec(&q.Spec)
	if !sets.New(q.Spec.Scopes...).Equal(sets.New(oldQ.Spec.Scopes...)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "scopes"), q.Spec.Scopes, fieldImmutableErrorMsg))
	}
	return errs
}
