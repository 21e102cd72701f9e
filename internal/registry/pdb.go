package registry

import (
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedUnhealthyPodPolicies = []policyv1.UnhealthyPodEvictionPolicyType{policyv1.AlwaysAllow, policyv1.IfHealthyBudget}

type podDisruptionBudgetStrategy struct{ baseStrategy }

func (podDisruptionBudgetStrategy) Validate(obj runtime.Object) field.ErrorList {
	pdb, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return nil
	}
	return validatePodDisruptionBudgetSpec(&pdb.Spec, field.NewPath("spec"))
}

func (s podDisruptionBudgetStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList {
	return s.Validate(obj)
}

// validatePodDisruptionBudgetSpec checks that a budget states one bound (minAvailable or
// maxUnavailable) as a count or a percentage of at most 100%.
func validatePodDisruptionBudgetSpec(spec *policyv1.PodDisruptionBudgetSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(specPath, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	errs = append(errs, validateRollingUpdateBound(spec.MinAvailable, specPath.Child("minAvailable"))...)
	errs = append(errs, validateRollingUpdateBound(spec.MaxUnavailable, specPath.Child("maxUnavailable"))...)
	errs = append(errs, validateLabelSelector(spec.Selector, specPath.Child("selector"))...)
	if p := spec.UnhealthyPodEvictionPolicy; p != nil {
		errs = append(errs, validateEnum(*p, supportedUnhealthyPodPolicies, specPath.Child("unhealthyPodEvictionPolicy"))...)
	}
	return errs
}
