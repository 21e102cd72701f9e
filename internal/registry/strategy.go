package registry

import (
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// strategyFor returns the strategy of a built-in resource.
func strategyFor(gr schema.GroupResource) Strategy {
	switch gr {
	case schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}:
		return crdStrategy{}
	// core/v1
	case schema.GroupResource{Resource: "namespaces"}:
		return namespaceStrategy{}
	case schema.GroupResource{Resource: "pods"}:
		return podStrategy{}
	case schema.GroupResource{Resource: "services"}:
		return serviceStrategy{}
	case schema.GroupResource{Resource: "endpoints"}:
		return endpointsStrategy{}
	case schema.GroupResource{Resource: "configmaps"}:
		return configMapStrategy{}
	case schema.GroupResource{Resource: "secrets"}:
		return secretStrategy{}
	case schema.GroupResource{Resource: "events"}, schema.GroupResource{Group: "events.k8s.io", Resource: "events"}:
		return eventStrategy{}
	case schema.GroupResource{Resource: "nodes"}:
		return nodeStrategy{}
	case schema.GroupResource{Resource: "persistentvolumes"}:
		return persistentVolumeStrategy{}
	case schema.GroupResource{Resource: "persistentvolumeclaims"}:
		return persistentVolumeClaimStrategy{}
	case schema.GroupResource{Resource: "resourcequotas"}:
		return resourceQuotaStrategy{}
	case schema.GroupResource{Resource: "limitranges"}:
		return limitRangeStrategy{}
	case schema.GroupResource{Resource: "replicationcontrollers"}:
		return replicationControllerStrategy{}
	case schema.GroupResource{Resource: "podtemplates"}:
		return podTemplateStrategy{}

	// apps/v1
	case schema.GroupResource{Group: "apps", Resource: "deployments"}:
		return deploymentStrategy{}
	case schema.GroupResource{Group: "apps", Resource: "replicasets"}:
		return replicaSetStrategy{}
	case schema.GroupResource{Group: "apps", Resource: "statefulsets"}:
		return statefulSetStrategy{}
	case schema.GroupResource{Group: "apps", Resource: "daemonsets"}:
		return daemonSetStrategy{}
	case schema.GroupResource{Group: "apps", Resource: "controllerrevisions"}:
		return controllerRevisionStrategy{}

	// batch/v1
	case schema.GroupResource{Group: "batch", Resource: "jobs"}:
		return jobStrategy{}
	case schema.GroupResource{Group: "batch", Resource: "cronjobs"}:
		return cronJobStrategy{}

	// autoscaling: one strategy for the v1 and v2 shapes.
	case schema.GroupResource{Group: "autoscaling", Resource: "horizontalpodautoscalers"}:
		return hpaStrategy{}

	// networking.k8s.io/v1
	case schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}:
		return ingressStrategy{}
	case schema.GroupResource{Group: "networking.k8s.io", Resource: "ingressclasses"}:
		return ingressClassStrategy{}
	case schema.GroupResource{Group: "networking.k8s.io", Resource: "networkpolicies"}:
		return networkPolicyStrategy{}

	// storage.k8s.io/v1
	case schema.GroupResource{Group: "scheduling.k8s.io", Resource: "priorityclasses"}:
		return priorityClassStrategy{}
	case schema.GroupResource{Group: "storage.k8s.io", Resource: "storageclasses"}:
		return storageClassStrategy{}

	// discovery.k8s.io/v1
	case schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}:
		return endpointSliceStrategy{}

	// policy/v1
	case schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}:
		return podDisruptionBudgetStrategy{}

	// rbac.authorization.k8s.io/v1
	case schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "roles"},
		schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}:
		return roleStrategy{}
	case schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
		schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}:
		return roleBindingStrategy{}
	}
	// ServiceAccounts, Leases and anything else have nothing kind-specific.
	return baseStrategy{}
}

// baseStrategy is the behaviour shared by every kind: nothing kind-specific.
type baseStrategy struct{}

func (baseStrategy) Default(runtime.Object)                                 {}
func (baseStrategy) PrepareForCreate(runtime.Object)                        {}
func (baseStrategy) PrepareForUpdate(obj, old runtime.Object)               {}
func (baseStrategy) Validate(runtime.Object) field.ErrorList                { return nil }
func (baseStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList { return nil }
func (baseStrategy) FieldSet(runtime.Object) fields.Set                     { return nil }
