package registry

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const maxIngressClassControllerLength = 250

var supportedParameterScopes = []string{networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}

type ingressClassStrategy struct{ baseStrategy }

func (ingressClassStrategy) Validate(obj runtime.Object) field.ErrorList {
	ic, ok := obj.(*networkingv1.IngressClass)
	if !ok {
		return nil
	}
	return validateIngressClassSpec(&ic.Spec, field.NewPath("spec"))
}

// validateIngressClassSpec checks the controller name (a domain-prefixed path such as
// "skiff.sh/ingress") and the optional parameters reference.
func validateIngressClassSpec(spec *networkingv1.IngressClassSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Controller) > maxIngressClassControllerLength {
		errs = append(errs, field.TooLong(specPath.Child("controller"), "", maxIngressClassControllerLength))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(specPath.Child("controller"), spec.Controller)...)
	if p := spec.Parameters; p != nil {
		pp := specPath.Child("parameters")
		if p.Kind == "" {
			errs = append(errs, field.Required(pp.Child("kind"), "kind is required"))
		}
		if p.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), "name is required"))
		}
		switch {
		case p.Scope == nil:
			errs = append(errs, field.Required(pp.Child("scope"), ""))
		case *p.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace && p.Namespace == nil:
			errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		case *p.Scope == networkingv1.IngressClassParametersReferenceScopeCluster && p.Namespace != nil:
			errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		case *p.Scope != networkingv1.IngressClassParametersReferenceScopeCluster && *p.Scope != networkingv1.IngressClassParametersReferenceScopeNamespace:
			errs = append(errs, field.NotSupported(pp.Child("scope"), *p.Scope, supportedParameterScopes))
		}
	}
	return errs
}

func (ingressClassStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	ic, ok := obj.(*networkingv1.IngressClass)
	oldIC, ok2 := old.(*networkingv1.IngressClass)
	if !ok || !ok2 {
		return nil
	}
	errs := validateIngressClassSpec(&ic.Spec, field.NewPath("spec"))
	return append(errs, validateImmutable(ic.Spec.Controller, oldIC.Spec.Controller, field.NewPath("spec", "controller"))...)
}
