package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rules shared by the controllers that keep pods from a template running (Deployments,
// ReplicaSets, StatefulSets, DaemonSets): a non-empty selector that matches the template.

// validateSelectorMatchesTemplate checks a workload's selector and that the pods of its
// template would be selected by it. kind names the workload in the empty-selector message.
func validateSelectorMatchesTemplate(sel *metav1.LabelSelector, templateLabels map[string]string, kind string, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(specPath.Child("selector"), ""))
	} else {
		errs = append(errs, validateLabelSelector(sel, specPath.Child("selector"))...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(specPath.Child("selector"), sel, "empty selector is invalid for "+kind))
		}
	}
	// A missing selector selects nothing, so it never matches the template either.
	selector, err := metav1.LabelSelectorAsSelector(sel)
	switch {
	case err != nil:
		errs = append(errs, field.Invalid(specPath.Child("selector"), sel, "invalid label selector"))
	case !selector.Empty() && !selector.Matches(labels.Set(templateLabels)):
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), templateLabels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateLongRunningPodTemplate checks the template of a workload whose pods run until
// replaced: they must restart always and may not carry a deadline. kind names the workload in
// messages, as upstream names it ("ReplicaSet" for Deployments too).
func validateLongRunningPodTemplate(t *corev1.PodTemplateSpec, kind string, templatePath *field.Path, extras podSpecExtras) field.ErrorList {
	errs := validatePodTemplateSpec(t, templatePath, extras)
	if t.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(templatePath.Child("spec", "restartPolicy"), t.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(templatePath.Child("spec", "activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return errs
}

// validateReplicas checks an optional replica count (defaulting always sets it).
func validateReplicas(replicas *int32, fldPath *field.Path) field.ErrorList {
	if replicas == nil {
		return nil
	}
	return validateNonnegative(int64(*replicas), fldPath)
}

// validateOptionalNonnegative checks an optional count such as revisionHistoryLimit.
func validateOptionalNonnegative(v *int32, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return validateNonnegative(int64(*v), fldPath)
}

// validateRollingUpdateBound checks an optional maxUnavailable, maxSurge or PDB bound: a count
// or a percentage of at most 100%.
func validateRollingUpdateBound(v *intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	errs := validateIntOrPercent(*v, fldPath)
	return append(errs, validateNotMoreThan100Percent(*v, fldPath)...)
}

// intOrPercentIsZero reports whether an optional maxUnavailable/maxSurge is zero or unset.
func intOrPercentIsZero(v *intstr.IntOrString) bool {
	return v == nil || intOrPercentValue(*v) == 0
}
