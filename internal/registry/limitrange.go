package registry

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var standardLimitTypes = []corev1.LimitType{corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim, corev1.LimitTypePod}

type limitRangeStrategy struct{ baseStrategy }

// Default completes container limit items: a max with no default limit makes the max the
// default, and a default limit with no default request makes it the default request too, so
// that the LimitRanger admission has complete values to apply.
func (limitRangeStrategy) Default(obj runtime.Object) {
	lr, ok := obj.(*corev1.LimitRange)
	if !ok {
		return
	}
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		if item.Default == nil {
			item.Default = corev1.ResourceList{}
		}
		if item.DefaultRequest == nil {
			item.DefaultRequest = corev1.ResourceList{}
		}
		for name, q := range item.Max {
			if _, ok := item.Default[name]; !ok {
				item.Default[name] = q.DeepCopy()
			}
		}
		for name, q := range item.Default {
			if _, ok := item.DefaultRequest[name]; !ok {
				item.DefaultRequest[name] = q.DeepCopy()
			}
		}
		for name, q := range item.Min {
			if _, ok := item.DefaultRequest[name]; !ok {
				item.DefaultRequest[name] = q.DeepCopy()
			}
		}
	}
}

func (limitRangeStrategy) Validate(obj runtime.Object) field.ErrorList {
	lr, ok := obj.(*corev1.LimitRange)
	if !ok {
		return nil
	}
	return validateLimitRange(lr)
}

func (s limitRangeStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList {
	return s.Validate(obj)
}

// validateLimitRange checks that each limit type appears once and that its bounds are ordered
// min <= defaultRequest <= default <= max.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.LimitType]bool{}
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		p := field.NewPath("spec", "limits").Index(i)
		if errs2 := validateQualifiedName(string(item.Type), p.Child("type")); len(errs2) > 0 {
			errs = append(errs, errs2...)
		} else if !strings.Contains(string(item.Type), "/") && !slices.Contains(standardLimitTypes, item.Type) {
			errs = append(errs, field.Invalid(p.Child("type"), item.Type, "must be a standard limit type or fully qualified"))
		}
		if seen[item.Type] {
			errs = append(errs, field.Duplicate(p.Child("type"), item.Type))
		}
		seen[item.Type] = true
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		for _, list := range []struct {
			name string
			rl   corev1.ResourceList
		}{{"max", item.Max}, {"min", item.Min}, {"default", item.Default}, {"defaultRequest", item.DefaultRequest}, {"maxLimitRequestRatio", item.MaxLimitRequestRatio}} {
			for name, q := range list.rl {
				errs = append(errs, validateResourceQuantity(name, q, p.Child(list.name).Key(string(name)))...)
			}
		}
		for name, minQ := range item.Min {
			if maxQ, ok := item.Max[name]; ok && minQ.Cmp(maxQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("min").Key(string(name)), minQ.String(), fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
			}
			if d, ok := item.DefaultRequest[name]; ok && minQ.Cmp(d) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), d.String(), fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), d.String())))
			}
			if d, ok := item.Default[name]; ok && minQ.Cmp(d) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), minQ.String(), fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), d.String())))
			}
		}
		for name, d := range item.DefaultRequest {
			if maxQ, ok := item.Max[name]; ok && d.Cmp(maxQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), d.String(), fmt.Sprintf("default request value %s is greater than max value %s", d.String(), maxQ.String())))
			}
			if def, ok := item.Default[name]; ok && d.Cmp(def) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), d.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", d.String(), def.String())))
			}
		}
		for name, def := range item.Default {
			if maxQ, ok := item.Max[name]; ok && def.Cmp(maxQ) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), maxQ.String(), fmt.Sprintf("default value %s is greater than max value %s", def.String(), maxQ.String())))
			}
		}
	}
	return errs
}
