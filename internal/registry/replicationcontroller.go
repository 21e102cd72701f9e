package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type replicationControllerStrategy struct{ baseStrategy }

// Default fills replicas, and takes the selector and the controller's labels from the pod
// template when they are left out, as the v1 API always has.
func (replicationControllerStrategy) Default(obj runtime.Object) {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return
	}
	if t := rc.Spec.Template; t != nil && t.Labels != nil {
		if len(rc.Spec.Selector) == 0 {
			rc.Spec.Selector = t.Labels
		}
		if len(rc.Labels) == 0 {
			rc.Labels = t.Labels
		}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = new(int32(1))
	}
	if rc.Spec.Template != nil {
		defaultPodTemplateSpec(rc.Spec.Template)
	}
}

func (replicationControllerStrategy) Validate(obj runtime.Object) field.ErrorList {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil
	}
	return validateReplicationControllerSpec(&rc.Spec, field.NewPath("spec"))
}

func validateReplicationControllerSpec(spec *corev1.ReplicationControllerSpec, specPath *field.Path) field.ErrorList {
	errs := validateReplicas(spec.Replicas, specPath.Child("replicas"))
	errs = append(errs, validateNonnegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	if len(spec.Selector) == 0 {
		errs = append(errs, field.Required(specPath.Child("selector"), ""))
	} else {
		errs = append(errs, validateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	if spec.Template == nil {
		return append(errs, field.Required(specPath.Child("template"), ""))
	}
	selector := labels.Set(spec.Selector).AsSelector()
	if !selector.Empty() && !selector.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return append(errs, validateLongRunningPodTemplate(spec.Template, "ReplicationController", specPath.Child("template"), podSpecExtras{})...)
}

func (s replicationControllerStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList {
	return s.Validate(obj)
}

// FieldSet returns the fields replication controllers can be selected by.
func (replicationControllerStrategy) FieldSet(obj runtime.Object) fields.Set {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil
	}
	return fields.Set{"status.replicas": strconv.Itoa(int(rc.Status.Replicas))}
}
