package registry

import (
	"bytes"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// controllerRevisionStrategy keeps revisions write-once: a revision records a past template.
type controllerRevisionStrategy struct{ baseStrategy }

func (controllerRevisionStrategy) Validate(obj runtime.Object) field.ErrorList {
	cr, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return nil
	}
	return validateControllerRevision(cr)
}

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	var errs field.ErrorList
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, validateNonnegative(cr.Revision, field.NewPath("revision"))...)
}

func (controllerRevisionStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	cr, ok := obj.(*appsv1.ControllerRevision)
	oldCR, ok2 := old.(*appsv1.ControllerRevision)
	if !ok || !ok2 {
		return nil
	}
	errs := validateControllerRevision(cr)
	if !bytes.Equal(cr.Data.Raw, oldCR.Data.Raw) {
		errs = append(errs, field.Invalid(field.NewPath("data"), "", fieldImmutableErrorMsg))
	}
	return errs
}
