package registry

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type deploymentStrategy struct{ baseStrategy }

func (deploymentStrategy) Default(obj runtime.Object) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	spec := &d.Spec
	if spec.Replicas == nil {
		spec.Replicas = new(int32(1))
	}
	if spec.Strategy.Type == "" {
		spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if spec.Strategy.RollingUpdate == nil {
			spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if spec.Strategy.RollingUpdate.MaxUnavailable == nil {
			spec.Strategy.RollingUpdate.MaxUnavailable = new(intstr.FromString("25%"))
		}
		if spec.Strategy.RollingUpdate.MaxSurge == nil {
			spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromString("25%"))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = new(int32(10))
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = new(int32(600))
	}
	defaultPodTemplateSpec(&spec.Template)
}

func (deploymentStrategy) Validate(obj runtime.Object) field.ErrorList {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return nil
	}
	return validateDeploymentSpec(&d.Spec, field.NewPath("spec"))
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, specPath *field.Path) field.ErrorList {
	errs := validateReplicas(spec.Replicas, specPath.Child("replicas"))
	errs = append(errs, validateSelectorMatchesTemplate(spec.Selector, spec.Template.Labels, "deployment", specPath)...)
	errs = append(errs, validateLongRunningPodTemplate(&spec.Template, "ReplicaSet", specPath.Child("template"), podSpecExtras{})...)
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, specPath.Child("strategy"))...)
	errs = append(errs, validateNonnegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, validateOptionalNonnegative(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if p := spec.ProgressDeadlineSeconds; p != nil {
		errs = append(errs, validateNonnegative(int64(*p), specPath.Child("progressDeadlineSeconds"))...)
		if *p <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(specPath.Child("progressDeadlineSeconds"), *p, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		ru := s.RollingUpdate
		if ru == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := fldPath.Child("rollingUpdate")
		errs := validateRollingUpdateBound(ru.MaxUnavailable, p.Child("maxUnavailable"))
		if ru.MaxSurge != nil {
			errs = append(errs, validateIntOrPercent(*ru.MaxSurge, p.Child("maxSurge"))...)
		}
		// Both zero would let the rollout make no progress at all.
		if intOrPercentIsZero(ru.MaxUnavailable) && intOrPercentIsZero(ru.MaxSurge) {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return errs
	default:
		return validateEnum(s.Type, []appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType}, fldPath.Child("type"))
	}
	return nil
}

func (deploymentStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	d, ok := obj.(*appsv1.Deployment)
	oldD, ok2 := old.(*appsv1.Deployment)
	if !ok || !ok2 {
		return nil
	}
	errs := validateDeploymentSpec(&d.Spec, field.NewPath("spec"))
	// apps/v1 fixes the selector: changing it would orphan the existing ReplicaSets.
	return append(errs, validateImmutable(d.Spec.Selector, oldD.Spec.Selector, field.NewPath("spec", "selector"))...)
}
