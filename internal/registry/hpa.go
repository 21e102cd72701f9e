package registry

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// defaultCPUUtilization is the target of an HPA that names no metric.
	defaultCPUUtilization            = 80
	maxStabilizationWindowSeconds    = 3600
	maxScalingPolicyPeriodSeconds    = 1800
	defaultScaleDownStabilizationSec = 300
)

var (
	supportedMetricSources = []autoscalingv2.MetricSourceType{autoscalingv2.ContainerResourceMetricSourceType, autoscalingv2.ExternalMetricSourceType,
		autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType, autoscalingv2.ResourceMetricSourceType}
	supportedSelectPolicies = []autoscalingv2.ScalingPolicySelect{autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect}
	supportedScalingPolicy  = []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PercentScalingPolicy, autoscalingv2.PodsScalingPolicy}
)

// hpaStrategy serves HorizontalPodAutoscalers in both the autoscaling/v2 shape (the stored one)
// and the older autoscaling/v1 shape.
type hpaStrategy struct{ baseStrategy }

func (hpaStrategy) Default(obj runtime.Object) {
	switch hpa := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		defaultHPAv2(hpa)
	case *autoscalingv1.HorizontalPodAutoscaler:
		if hpa.Spec.MinReplicas == nil {
			hpa.Spec.MinReplicas = new(int32(1))
		}
	}
}

func defaultHPAv2(hpa *autoscalingv2.HorizontalPodAutoscaler) {
	spec := &hpa.Spec
	if spec.MinReplicas == nil {
		spec.MinReplicas = new(int32(1))
	}
	if len(spec.Metrics) == 0 {
		spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: new(int32(defaultCPUUtilization)),
				},
			},
		}}
	}
	// A behavior that is given is completed with upstream's default rules; an absent one stays
	// absent and means those same defaults.
	if b := spec.Behavior; b != nil {
		b.ScaleUp = completeScalingRules(b.ScaleUp, 0, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
		b.ScaleDown = completeScalingRules(b.ScaleDown, defaultScaleDownStabilizationSec, []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		})
	}
}

func completeScalingRules(r *autoscalingv2.HPAScalingRules, window int32, policies []autoscalingv2.HPAScalingPolicy) *autoscalingv2.HPAScalingRules {
	if r == nil {
		r = &autoscalingv2.HPAScalingRules{}
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = new(window)
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = new(autoscalingv2.MaxChangePolicySelect)
	}
	if r.Policies == nil {
		r.Policies = policies
	}
	return r
}

func (hpaStrategy) Validate(obj runtime.Object) field.ErrorList {
	specPath := field.NewPath("spec")
	switch hpa := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		errs := validateScaleBounds(hpa.Spec.ScaleTargetRef, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, specPath)
		for i := range hpa.Spec.Metrics {
			errs = append(errs, validateMetricSpec(&hpa.Spec.Metrics[i], specPath.Child("metrics").Index(i))...)
		}
		if b := hpa.Spec.Behavior; b != nil {
			errs = append(errs, validateScalingRules(b.ScaleUp, specPath.Child("behavior", "scaleUp"))...)
			errs = append(errs, validateScalingRules(b.ScaleDown, specPath.Child("behavior", "scaleDown"))...)
		}
		return errs
	case *autoscalingv1.HorizontalPodAutoscaler:
		errs := validateScaleBounds(autoscalingv2.CrossVersionObjectReference(hpa.Spec.ScaleTargetRef), hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, specPath)
		if t := hpa.Spec.TargetCPUUtilizationPercentage; t != nil && *t < 1 {
			errs = append(errs, field.Invalid(specPath.Child("targetCPUUtilizationPercentage"), *t, "must be greater than 0"))
		}
		return errs
	}
	return nil
}

func (s hpaStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList { return s.Validate(obj) }

// validateScaleBounds checks the scaled object reference and the replica range.
func validateScaleBounds(ref autoscalingv2.CrossVersionObjectReference, minReplicas *int32, maxReplicas int32, specPath *field.Path) field.ErrorList {
	errs := validateObjectReference(ref, specPath.Child("scaleTargetRef"))
	if minReplicas != nil && *minReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("minReplicas"), *minReplicas, "must be greater than or equal to 1"))
	}
	if maxReplicas < 1 {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), maxReplicas, "must be greater than 0"))
	}
	if minReplicas != nil && maxReplicas < *minReplicas {
		errs = append(errs, field.Invalid(specPath.Child("maxReplicas"), maxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	return errs
}

func validateObjectReference(ref autoscalingv2.CrossVersionObjectReference, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if ref.Kind == "" {
		errs = append(errs, field.Required(fldPath.Child("kind"), ""))
	} else {
		errs = append(errs, messagesAt(fldPath.Child("kind"), ref.Kind, pathvalidation.IsValidPathSegmentName(ref.Kind))...)
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else {
		errs = append(errs, messagesAt(fldPath.Child("name"), ref.Name, pathvalidation.IsValidPathSegmentName(ref.Name))...)
	}
	return errs
}

// validateMetricSpec checks that a metric names its type, fills exactly that source, and has
// a usable target.
func validateMetricSpec(m *autoscalingv2.MetricSpec, fldPath *field.Path) field.ErrorList {
	errs := validateEnum(m.Type, supportedMetricSources, fldPath.Child("type"))
	present := sets.New[string]()
	if m.Object != nil {
		present.Insert("object")
		errs = append(errs, validateObjectReference(m.Object.DescribedObject, fldPath.Child("object", "describedObject"))...)
		errs = append(errs, validateMetricIdentifier(m.Object.Metric, fldPath.Child("object", "metric"))...)
		errs = append(errs, validateMetricTarget(m.Object.Target, fldPath.Child("object", "target"))...)
		if m.Object.Target.Value == nil && m.Object.Target.AverageValue == nil {
			errs = append(errs, field.Required(fldPath.Child("object", "target", "value"), "must set either a target value or averageValue"))
		}
	}
	if m.Pods != nil {
		present.Insert("pods")
		errs = append(errs, validateMetricIdentifier(m.Pods.Metric, fldPath.Child("pods", "metric"))...)
		errs = append(errs, validateMetricTarget(m.Pods.Target, fldPath.Child("pods", "target"))...)
		if m.Pods.Target.AverageValue == nil {
			errs = append(errs, field.Required(fldPath.Child("pods", "target", "averageValue"), "must specify a positive target averageValue"))
		}
	}
	if m.Resource != nil {
		present.Insert("resource")
		errs = append(errs, validateResourceMetric(m.Resource.Name, m.Resource.Target, fldPath.Child("resource"))...)
	}
	if m.ContainerResource != nil {
		present.Insert("containerResource")
		errs = append(errs, validateResourceMetric(m.ContainerResource.Name, m.ContainerResource.Target, fldPath.Child("containerResource"))...)
		if m.ContainerResource.Container == "" {
			errs = append(errs, field.Required(fldPath.Child("containerResource", "container"), "must populate container name"))
		} else {
			errs = append(errs, validateDNS1123Label(m.ContainerResource.Container, fldPath.Child("containerResource", "container"))...)
		}
	}
	if m.External != nil {
		present.Insert("external")
		errs = append(errs, validateMetricIdentifier(m.External.Metric, fldPath.Child("external", "metric"))...)
		errs = append(errs, validateMetricTarget(m.External.Target, fldPath.Child("external", "target"))...)
		if m.External.Target.Value == nil && m.External.Target.AverageValue == nil {
			errs = append(errs, field.Required(fldPath.Child("external", "target", "value"), "must set either a target value for metric or a per-pod target"))
		}
	}
	expected := map[autoscalingv2.MetricSourceType]string{
		autoscalingv2.ObjectMetricSourceType: "object", autoscalingv2.PodsMetricSourceType: "pods",
		autoscalingv2.ResourceMetricSourceType: "resource", autoscalingv2.ContainerResourceMetricSourceType: "containerResource",
		autoscalingv2.ExternalMetricSourceType: "external",
	}[m.Type]
	if expected != "" && !present.Has(expected) {
		errs = append(errs, field.Required(fldPath.Child(expected), "must populate information for the given metric source"))
	}
	for _, name := range sets.List(present) {
		if name != expected && expected != "" {
			errs = append(errs, field.Forbidden(fldPath.Child(name), "must populate the given metric source only"))
		}
	}
	return errs
}

func validateResourceMetric(name corev1.ResourceName, t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, validateMetricTarget(t, fldPath.Child("target"))...)
	switch {
	case t.AverageUtilization == nil && t.AverageValue == nil:
		errs = append(errs, field.Required(fldPath.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	case t.AverageUtilization != nil && t.AverageValue != nil:
		errs = append(errs, field.Forbidden(fldPath.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if id.Name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), "must specify a metric name"))
	} else {
		errs = append(errs, messagesAt(fldPath.Child("name"), id.Name, pathvalidation.IsValidPathSegmentName(id.Name))...)
	}
	if id.Selector != nil {
		errs = append(errs, validateLabelSelector(id.Selector, fldPath.Child("selector"))...)
	}
	return errs
}

func validateMetricTarget(t autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch t.Type {
	case "":
		errs = append(errs, field.Required(fldPath.Child("type"), "must specify a metric target type"))
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	default:
		errs = append(errs, field.Invalid(fldPath.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("value"), t.Value.String(), "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(fldPath.Child("averageValue"), t.AverageValue.String(), "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(fldPath.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateScalingRules(r *autoscalingv2.HPAScalingRules, fldPath *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		switch {
		case *w < 0:
			errs = append(errs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		case *w > maxStabilizationWindowSeconds:
			errs = append(errs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, fmt.Sprintf("must be less than or equal to %v", maxStabilizationWindowSeconds)))
		}
	}
	if r.SelectPolicy != nil {
		errs = append(errs, validateEnum(*r.SelectPolicy, supportedSelectPolicies, fldPath.Child("selectPolicy"))...)
	}
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(fldPath.Child("policies"), "must specify at least one Policy"))
	}
	for i, p := range r.Policies {
		pp := fldPath.Child("policies").Index(i)
		errs = append(errs, validateEnum(p.Type, supportedScalingPolicy, pp.Child("type"))...)
		errs = append(errs, validatePositive(int64(p.Value), pp.Child("value"))...)
		if p.PeriodSeconds <= 0 || p.PeriodSeconds > maxScalingPolicyPeriodSeconds {
			errs = append(errs, field.Invalid(pp.Child("periodSeconds"), p.PeriodSeconds, fmt.Sprintf("must be greater than zero and less than or equal to %v", maxScalingPolicyPeriodSeconds)))
		}
	}
	if r.Tolerance != nil && r.Tolerance.Sign() < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("tolerance"), r.Tolerance.String(), "must be greater than or equal to zero"))
	}
	return errs
}
