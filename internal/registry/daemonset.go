package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// templateGenerationAnnotation counts changes of a DaemonSet's pod template; apps/v1 keeps the
// older API's spec.templateGeneration there.
const templateGenerationAnnotation = "deprecated.daemonset.template.generation"

type daemonSetStrategy struct{ baseStrategy }

func (daemonSetStrategy) Default(obj runtime.Object) {
	if ds, ok := obj.(*appsv1.DaemonSet); ok {
		defaultDaemonSet(ds)
	}
}

func defaultDaemonSet(ds *appsv1.DaemonSet) {
	spec := &ds.Spec
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if spec.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
			spec.UpdateStrategy.RollingUpdate.MaxUnavailable = new(intstr.FromInt32(1))
		}
		if spec.UpdateStrategy.RollingUpdate.MaxSurge == nil {
			spec.UpdateStrategy.RollingUpdate.MaxSurge = new(intstr.FromInt32(0))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = new(int32(10))
	}
	defaultPodTemplateSpec(&spec.Template)
}

// PrepareForCreate starts the template generation at 1.
func (daemonSetStrategy) PrepareForCreate(obj runtime.Object) {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return
	}
	setAnnotation(&ds.ObjectMeta.Annotations, templateGenerationAnnotation, "1")
}

// PrepareForUpdate carries the template generation over, counting one more when the pod
// template changed. The new object is defaulted first so that fields a client left out do not
// count as changes.
func (daemonSetStrategy) PrepareForUpdate(obj, old runtime.Object) {
	ds, ok := obj.(*appsv1.DaemonSet)
	oldDS, ok2 := old.(*appsv1.DaemonSet)
	if !ok || !ok2 {
		return
	}
	defaultDaemonSet(ds)
	generation, err := strconv.ParseInt(oldDS.Annotations[templateGenerationAnnotation], 10, 64)
	if err != nil {
		generation = 0
	}
	if !apiequality.Semantic.DeepEqual(ds.Spec.Template, oldDS.Spec.Template) {
		generation++
	}
	if generation > 0 {
		setAnnotation(&ds.ObjectMeta.Annotations, templateGenerationAnnotation, strconv.FormatInt(generation, 10))
	}
}

func setAnnotation(annotations *map[string]string, key, value string) {
	if *annotations == nil {
		*annotations = map[string]string{}
	}
	(*annotations)[key] = value
}

func (daemonSetStrategy) Validate(obj runtime.Object) field.ErrorList {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return nil
	}
	return validateDaemonSetSpec(&ds.Spec, field.NewPath("spec"))
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, specPath *field.Path) field.ErrorList {
	errs := validateSelectorMatchesTemplate(spec.Selector, spec.Template.Labels, "daemonset", specPath)
	errs = append(errs, validateLongRunningPodTemplate(&spec.Template, "DaemonSet", specPath.Child("template"), podSpecExtras{})...)
	errs = append(errs, validateNonnegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, validateOptionalNonnegative(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	return append(errs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, specPath.Child("updateStrategy"))...)
}

func validateDaemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := s.RollingUpdate
		if ru == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		p := fldPath.Child("rollingUpdate")
		errs := validateRollingUpdateBound(ru.MaxUnavailable, p.Child("maxUnavailable"))
		errs = append(errs, validateRollingUpdateBound(ru.MaxSurge, p.Child("maxSurge"))...)
		// A daemon pod is either replaced in place (unavailable) or surged, never both.
		unavailable, surge := !intOrPercentIsZero(ru.MaxUnavailable), !intOrPercentIsZero(ru.MaxSurge)
		switch {
		case unavailable && surge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), ru.MaxSurge, "may not be set when maxUnavailable is non-zero"))
		case !unavailable && !surge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	}
	return validateEnum(s.Type, []appsv1.DaemonSetUpdateStrategyType{appsv1.OnDeleteDaemonSetStrategyType, appsv1.RollingUpdateDaemonSetStrategyType}, fldPath.Child("type"))
}

func (daemonSetStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	ds, ok := obj.(*appsv1.DaemonSet)
	oldDS, ok2 := old.(*appsv1.DaemonSet)
	if !ok || !ok2 {
		return nil
	}
	errs := validateDaemonSetSpec(&ds.Spec, field.NewPath("spec"))
	return append(errs, validateImmutable(ds.Spec.Selector, oldDS.Spec.Selector, field.NewPath("spec", "selector"))...)
}
