package registry

import (
	rbacv1 "k8s.io/api/rbac/v1"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// roleStrategy serves Roles and ClusterRoles.
type roleStrategy struct{ baseStrategy }

func (roleStrategy) Validate(obj runtime.Object) field.ErrorList {
	switch r := obj.(type) {
	case *rbacv1.Role:
		return validatePolicyRules(r.Rules, true)
	case *rbacv1.ClusterRole:
		errs := validatePolicyRules(r.Rules, false)
		if a := r.AggregationRule; a != nil {
			p := field.NewPath("aggregationRule", "clusterRoleSelectors")
			if len(a.ClusterRoleSelectors) == 0 {
				errs = append(errs, field.Required(p, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
			}
			for i := range a.ClusterRoleSelectors {
				errs = append(errs, validateLabelSelector(&a.ClusterRoleSelectors[i], p.Index(i))...)
			}
		}
		return errs
	}
	return nil
}

func (s roleStrategy) ValidateUpdate(obj, _ runtime.Object) field.ErrorList { return s.Validate(obj) }

// validatePolicyRules checks that each rule grants verbs on either API resources (with their
// groups) or, cluster-wide only, non-resource URLs.
func validatePolicyRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, rule := range rules {
		p := field.NewPath("rules").Index(i)
		if len(rule.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(rule.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(rule.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(rule.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

// roleBindingStrategy serves RoleBindings and ClusterRoleBindings.
type roleBindingStrategy struct{ baseStrategy }

// Default fills the API groups clients usually leave out: the RBAC group for the role and for
// User and Group subjects, none for ServiceAccounts.
func (roleBindingStrategy) Default(obj runtime.Object) {
	var ref *rbacv1.RoleRef
	var subjects []rbacv1.Subject
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		ref, subjects = &b.RoleRef, b.Subjects
	case *rbacv1.ClusterRoleBinding:
		ref, subjects = &b.RoleRef, b.Subjects
	default:
		return
	}
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func (roleBindingStrategy) Validate(obj runtime.Object) field.ErrorList {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		return validateRoleBinding(b.RoleRef, b.Subjects, true)
	case *rbacv1.ClusterRoleBinding:
		return validateRoleBinding(b.RoleRef, b.Subjects, false)
	}
	return nil
}

func validateRoleBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	refPath := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(refPath.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if ref.Kind != "ClusterRole" && (!namespaced || ref.Kind != "Role") {
		errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(refPath.Child("name"), ""))
	} else {
		errs = append(errs, messagesAt(refPath.Child("name"), ref.Name, pathvalidation.IsValidPathSegmentName(ref.Name))...)
	}
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.Name != "" {
				errs = append(errs, validateDNS1123Subdomain(s.Name, p.Child("name"))...)
			}
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if !namespaced && s.Namespace == "" {
				errs = append(errs, field.Required(p.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

// ValidateUpdate also fixes the role a binding grants: changing it means a new binding.
func (s roleBindingStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	errs := s.Validate(obj)
	var ref, oldRef rbacv1.RoleRef
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		o, ok := old.(*rbacv1.RoleBinding)
		if !ok {
			return errs
		}
		ref, oldRef = b.RoleRef, o.RoleRef
	case *rbacv1.ClusterRoleBinding:
		o, ok := old.(*rbacv1.ClusterRoleBinding)
		if !ok {
			return errs
		}
		ref, oldRef = b.RoleRef, o.RoleRef
	default:
		return errs
	}
	if ref != oldRef {
		errs = append(errs, field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef"))
	}
	return errs
}
