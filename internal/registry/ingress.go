package registry

import (
	"fmt"
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ingressClassAnnotation is the pre-ingressClassName way of choosing an ingress controller.
const ingressClassAnnotation = "kubernetes.io/ingress.class"

var (
	supportedPathTypes = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix}
	// Exact and Prefix paths are matched literally, so they may not hide traversal tricks.
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

type ingressStrategy struct{ baseStrategy }

func (ingressStrategy) Validate(obj runtime.Object) field.ErrorList {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	errs := validateIngressSpec(&ing.Spec, field.NewPath("spec"))
	if class, set := ing.Annotations[ingressClassAnnotation]; set && ing.Spec.IngressClassName != nil && class != *ing.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(ingressClassAnnotation), class, "must match `ingressClassName` when both are specified"))
	}
	return errs
}

func (ingressStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	return validateIngressSpec(&ing.Spec, field.NewPath("spec"))
}

func validateIngressSpec(spec *networkingv1.IngressSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(specPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, specPath.Child("defaultBackend"))...)
	}
	for i := range spec.Rules {
		errs = append(errs, validateIngressRule(&spec.Rules[i], specPath.Child("rules").Index(i))...)
	}
	for i, tls := range spec.TLS {
		p := specPath.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			errs = append(errs, validateIngressHost(host, p.Child("hosts").Index(j), false)...)
		}
		if tls.SecretName != "" {
			errs = append(errs, validateDNS1123Subdomain(tls.SecretName, p.Child("secretName"))...)
		}
	}
	if spec.IngressClassName != nil {
		errs = append(errs, validateDNS1123Subdomain(*spec.IngressClassName, specPath.Child("ingressClassName"))...)
	}
	return errs
}

// validateIngressHost checks a host name, which may start with a "*." wildcard label.
func validateIngressHost(host string, fldPath *field.Path, rejectIP bool) field.ErrorList {
	var errs field.ErrorList
	if _, err := netip.ParseAddr(host); err == nil && rejectIP {
		errs = append(errs, field.Invalid(fldPath, host, "must be a DNS name, not an IP address"))
	}
	if strings.Contains(host, "*") {
		return append(errs, messagesAt(fldPath, host, validation.IsWildcardDNS1123Subdomain(host))...)
	}
	return append(errs, validateDNS1123Subdomain(host, fldPath)...)
}

func validateIngressRule(rule *networkingv1.IngressRule, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if rule.Host != "" {
		errs = append(errs, validateIngressHost(rule.Host, fldPath.Child("host"), true)...)
	}
	if rule.HTTP == nil {
		return errs
	}
	pathsPath := fldPath.Child("http", "paths")
	if len(rule.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(pathsPath, ""))
	}
	for i := range rule.HTTP.Paths {
		errs = append(errs, validateHTTPIngressPath(&rule.HTTP.Paths[i], pathsPath.Index(i))...)
	}
	return errs
}

func validateHTTPIngressPath(p *networkingv1.HTTPIngressPath, fldPath *field.Path) field.ErrorList {
	if p.PathType == nil {
		return field.ErrorList{field.Required(fldPath.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch *p.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(fldPath.Child("path"), p.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(p.Path, seq) {
				errs = append(errs, field.Invalid(fldPath.Child("path"), p.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range invalidPathSuffixes {
			if strings.HasSuffix(p.Path, suffix) {
				errs = append(errs, field.Invalid(fldPath.Child("path"), p.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(fldPath.Child("path"), p.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("pathType"), *p.PathType, supportedPathTypes))
	}
	return append(errs, validateIngressBackend(&p.Backend, fldPath.Child("backend"))...)
}

// validateIngressBackend checks that a backend names exactly one Service port or one resource.
func validateIngressBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(fldPath, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		var errs field.ErrorList
		p := fldPath.Child("resource")
		if b.Resource.APIGroup != nil {
			errs = append(errs, validateDNS1123Subdomain(*b.Resource.APIGroup, p.Child("apiGroup"))...)
		}
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(p.Child("kind"), "kind is required"))
		} else {
			errs = append(errs, messagesAt(p.Child("kind"), b.Resource.Kind, pathvalidation.IsValidPathSegmentName(b.Resource.Kind))...)
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), "name is required"))
		} else {
			errs = append(errs, messagesAt(p.Child("name"), b.Resource.Name, pathvalidation.IsValidPathSegmentName(b.Resource.Name))...)
		}
		return errs
	case b.Service != nil:
		var errs field.ErrorList
		p := fldPath.Child("service")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			errs = append(errs, messagesAt(p.Child("name"), b.Service.Name, apimachineryvalidation.NameIsDNS1035Label(b.Service.Name, false))...)
		}
		hasName, hasNumber := b.Service.Port.Name != "", b.Service.Port.Number != 0
		switch {
		case hasName && hasNumber:
			errs = append(errs, field.Invalid(fldPath, "", "cannot set both port name & port number"))
		case hasName:
			errs = append(errs, messagesAt(p.Child("port", "name"), b.Service.Port.Name, validation.IsValidPortName(b.Service.Port.Name))...)
		case hasNumber:
			errs = append(errs, messagesAt(p.Child("port", "number"), b.Service.Port.Number, validation.IsValidPortNum(int(b.Service.Port.Number)))...)
		default:
			errs = append(errs, field.Required(fldPath, "port name or number is required"))
		}
		return errs
	}
	return field.ErrorList{field.Invalid(fldPath, "", "resource or service backend is required")}
}
