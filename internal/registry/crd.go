package registry

import (
	"fmt"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// crdResource is apiextensions.k8s.io/v1 customresourcedefinitions.
func crdResource() *Resource {
	return &Resource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions", Kind: "CustomResourceDefinition",
		ShortNames: []string{"crd", "crds"}, Categories: []string{"api-extensions"}, Subresources: []string{"status"},
		New:     func() runtime.Object { return &apiextensionsv1.CustomResourceDefinition{} },
		NewList: func() runtime.Object { return &apiextensionsv1.CustomResourceDefinitionList{} }}
}

// crdStrategy validates CustomResourceDefinitions and records, as upstream's naming and
// establishing controllers do, that their names are accepted and the API is served.
type crdStrategy struct{ baseStrategy }

func (crdStrategy) PrepareForCreate(obj runtime.Object) {
	if crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
		establish(crd)
	}
}

func (crdStrategy) PrepareForUpdate(obj, _ runtime.Object) {
	if crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition); ok {
		establish(crd)
	}
}

// establish sets the status the API server's CRD handling makes true as soon as it is stored:
// skiff starts serving a CRD's resources within the same watch event.
func establish(crd *apiextensionsv1.CustomResourceDefinition) {
	crd.Status.AcceptedNames = crd.Spec.Names
	if crd.Status.AcceptedNames.ListKind == "" {
		crd.Status.AcceptedNames.ListKind = crd.Spec.Names.Kind + "List"
	}
	if crd.Status.AcceptedNames.Singular == "" {
		crd.Status.AcceptedNames.Singular = strings.ToLower(crd.Spec.Names.Kind)
	}
	crd.Status.StoredVersions = mergeStored(crd.Status.StoredVersions, crd)
	now := metav1.Now()
	set := func(t apiextensionsv1.CustomResourceDefinitionConditionType, reason, msg string) {
		for i := range crd.Status.Conditions {
			if crd.Status.Conditions[i].Type == t {
				return
			}
		}
		crd.Status.Conditions = append(crd.Status.Conditions, apiextensionsv1.CustomResourceDefinitionCondition{
			Type: t, Status: apiextensionsv1.ConditionTrue, Reason: reason, Message: msg, LastTransitionTime: now})
	}
	set(apiextensionsv1.NamesAccepted, "NoConflicts", "no conflicts found")
	set(apiextensionsv1.Established, "InitialNamesAccepted", "the initial names have been accepted")
}

func mergeStored(stored []string, crd *apiextensionsv1.CustomResourceDefinition) []string {
	for _, v := range crd.Spec.Versions {
		if !v.Storage {
			continue
		}
		for _, s := range stored {
			if s == v.Name {
				return stored
			}
		}
		return append(stored, v.Name)
	}
	return stored
}

func (crdStrategy) Validate(obj runtime.Object) field.ErrorList {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return nil
	}
	spec := field.NewPath("spec")
	var errs field.ErrorList
	if want := crd.Spec.Names.Plural + "." + crd.Spec.Group; crd.Name != want {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), crd.Name, fmt.Sprintf("must be spec.names.plural+\".\"+spec.group (%s)", want)))
	}
	if crd.Spec.Group == "" {
		errs = append(errs, field.Required(spec.Child("group"), ""))
	} else if !strings.Contains(crd.Spec.Group, ".") {
		errs = append(errs, field.Invalid(spec.Child("group"), crd.Spec.Group, "should be a domain with at least one dot"))
	} else {
		errs = append(errs, validateDNS1123Subdomain(crd.Spec.Group, spec.Child("group"))...)
	}
	names := spec.Child("names")
	if crd.Spec.Names.Plural == "" {
		errs = append(errs, field.Required(names.Child("plural"), ""))
	} else {
		errs = append(errs, validateDNS1123Label(crd.Spec.Names.Plural, names.Child("plural"))...)
	}
	if crd.Spec.Names.Kind == "" {
		errs = append(errs, field.Required(names.Child("kind"), ""))
	}
	if crd.Spec.Names.Singular != "" {
		errs = append(errs, validateDNS1123Label(crd.Spec.Names.Singular, names.Child("singular"))...)
	}
	switch crd.Spec.Scope {
	case apiextensionsv1.NamespaceScoped, apiextensionsv1.ClusterScoped:
	default:
		errs = append(errs, field.NotSupported(spec.Child("scope"), crd.Spec.Scope, []string{"Cluster", "Namespaced"}))
	}
	if len(crd.Spec.Versions) == 0 {
		errs = append(errs, field.Required(spec.Child("versions"), "must have exactly one version marked as storage version"))
	}
	storage := 0
	seen := map[string]bool{}
	for i, v := range crd.Spec.Versions {
		p := spec.Child("versions").Index(i)
		if seen[v.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), v.Name))
		}
		seen[v.Name] = true
		errs = append(errs, validateDNS1123Label(v.Name, p.Child("name"))...)
		if v.Storage {
			storage++
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			errs = append(errs, field.Required(p.Child("schema", "openAPIV3Schema"), "schemas are required"))
		}
	}
	if len(crd.Spec.Versions) > 0 && storage != 1 {
		errs = append(errs, field.Invalid(spec.Child("versions"), storage, "must have exactly one version marked as storage version"))
	}
	return errs
}

func (s crdStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	errs := s.Validate(obj)
	n, ok1 := obj.(*apiextensionsv1.CustomResourceDefinition)
	o, ok2 := old.(*apiextensionsv1.CustomResourceDefinition)
	if !ok1 || !ok2 {
		return errs
	}
	if n.Spec.Group != o.Spec.Group {
		errs = append(errs, field.Invalid(field.NewPath("spec", "group"), n.Spec.Group, "field is immutable"))
	}
	if n.Spec.Names.Plural != o.Spec.Names.Plural {
		errs = append(errs, field.Invalid(field.NewPath("spec", "names", "plural"), n.Spec.Names.Plural, "field is immutable"))
	}
	if n.Spec.Scope != o.Spec.Scope {
		errs = append(errs, field.Invalid(field.NewPath("spec", "scope"), n.Spec.Scope, "field is immutable"))
	}
	return errs
}
