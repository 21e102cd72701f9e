// Package registry describes every API resource skiff serves: its names, its Go types and the
// per-kind strategy (defaulting, validation, field selectors) the API server applies to writes.
package registry

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is one served REST resource (e.g. apps/v1 deployments).
type Resource struct {
	Group      string
	Version    string
	Resource   string // plural, lower case: "deployments"
	Kind       string // "Deployment"
	ListKind   string // "DeploymentList"
	Namespaced bool
	ShortNames []string
	Categories []string
	// Subresources lists the served subresources: "status", "scale", "log", "exec", "attach",
	// "portforward", "binding", "eviction", "proxy", "ephemeralcontainers".
	Subresources []string
	// Verbs the main resource supports; empty means the full CRUD set.
	Verbs []string
	// StorageGroupVersion, when set, is the group/version objects are stored in (HPA autoscaling/v1
	// is stored as autoscaling/v2). Empty means this resource's own group/version.
	StorageGroupVersion *schema.GroupVersion
	// New and NewList make empty typed objects.
	New     func() runtime.Object
	NewList func() runtime.Object
	// Strategy holds the kind-specific hooks; never nil once built by Builtin.
	Strategy Strategy
	// Custom is set for resources defined by a CustomResourceDefinition, whose objects are
	// *unstructured.Unstructured.
	Custom *Custom
}

// GVR is the resource's group/version/resource.
func (r *Resource) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// GVK is the resource's group/version/kind.
func (r *Resource) GVK() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// GroupResource is the resource's group/resource, the storage identity across versions.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.Group, Resource: r.Resource}
}

// HasSubresource reports whether sub is served for this resource.
func (r *Resource) HasSubresource(sub string) bool {
	for _, s := range r.Subresources {
		if s == sub {
			return true
		}
	}
	return false
}

// Strategy is what differs between kinds when the API server creates, updates and lists objects.
// Every method must be safe on any object of the resource's type; implementations live one file
// per kind in this package.
type Strategy interface {
	// Default fills the fields upstream Kubernetes defaults (e.g. a pod's restartPolicy).
	Default(obj runtime.Object)
	// PrepareForCreate clears or sets fields the client may not set on create (e.g. status).
	PrepareForCreate(obj runtime.Object)
	// PrepareForUpdate copies fields the main resource may not change from old (e.g. status).
	PrepareForUpdate(obj, old runtime.Object)
	// Validate checks a new object; errors become a 422 Invalid with field causes.
	Validate(obj runtime.Object) field.ErrorList
	// ValidateUpdate checks a change, including immutable fields.
	ValidateUpdate(obj, old runtime.Object) field.ErrorList
	// FieldSet returns the field-selector values of obj beyond metadata.name/namespace.
	FieldSet(obj runtime.Object) fields.Set
}

// GroupVersion is the resource's group/version.
func (r *Resource) GroupVersion() schema.GroupVersion {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}
}
