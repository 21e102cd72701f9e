package registry

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type podTemplateStrategy struct{ baseStrategy }

func (podTemplateStrategy) Default(obj runtime.Object) {
	if pt, ok := obj.(*corev1.PodTemplate); ok {
		defaultPodTemplateSpec(&pt.Template)
	}
}

func (podTemplateStrategy) Validate(obj runtime.Object) field.ErrorList {
	pt, ok := obj.(*corev1.PodTemplate)
	if !ok {
		return nil
	}
	return validatePodTemplateSpec(&pt.Template, field.NewPath("template"), podSpecExtras{})
}

func (s podTemplateStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList {
	return s.Validate(obj)
}
