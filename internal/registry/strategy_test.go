package registry

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestBuiltinWiresStrategies(t *testing.T) {
	want := map[string]string{
		"/v1/pods":                "registry.podStrategy",
		"/v1/services":            "registry.serviceStrategy",
		"/v1/namespaces":          "registry.namespaceStrategy",
		"/v1/events":              "registry.eventStrategy",
		"events.k8s.io/v1/events": "registry.eventStrategy",
		"/v1/serviceaccounts":     "registry.baseStrategy",
		"apps/v1/deployments":     "registry.deploymentStrategy",
		"batch/v1/jobs":           "registry.jobStrategy",
		"autoscaling/v1/horizontalpodautoscalers":          "registry.hpaStrategy",
		"autoscaling/v2/horizontalpodautoscalers":          "registry.hpaStrategy",
		"rbac.authorization.k8s.io/v1/clusterroles":        "registry.roleStrategy",
		"coordination.k8s.io/v1/leases":                    "registry.baseStrategy",
		"discovery.k8s.io/v1/endpointslices":               "registry.endpointSliceStrategy",
		"networking.k8s.io/v1/ingresses":                   "registry.ingressStrategy",
		"policy/v1/poddisruptionbudgets":                   "registry.podDisruptionBudgetStrategy",
		"storage.k8s.io/v1/storageclasses":                 "registry.storageClassStrategy",
		"scheduling.k8s.io/v1/priorityclasses":             "registry.priorityClassStrategy",
		"rbac.authorization.k8s.io/v1/rolebindings":        "registry.roleBindingStrategy",
		"apps/v1/controllerrevisions":                      "registry.controllerRevisionStrategy",
		"/v1/persistentvolumeclaims":                       "registry.persistentVolumeClaimStrategy",
		"networking.k8s.io/v1/networkpolicies":             "registry.networkPolicyStrategy",
		"/v1/replicationcontrollers":                       "registry.replicationControllerStrategy",
		"batch/v1/cronjobs":                                "registry.cronJobStrategy",
		"apps/v1/statefulsets":                             "registry.statefulSetStrategy",
		"networking.k8s.io/v1/ingressclasses":              "registry.ingressClassStrategy",
		"rbac.authorization.k8s.io/v1/clusterrolebindings": "registry.roleBindingStrategy",
	}
	seen := 0
	for _, r := range Builtin() {
		key := r.Group + "/" + r.Version + "/" + r.Resource
		if r.Strategy == nil {
			t.Errorf("%s: nil strategy", key)
			continue
		}
		if w, ok := want[key]; ok {
			seen++
			if got := fmt.Sprintf("%T", r.Strategy); got != w {
				t.Errorf("%s: strategy %s, want %s", key, got, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d expected resources", seen, len(want))
	}
}

// Every strategy must be safe on empty objects of its own type and ignore foreign types.
func TestStrategiesAreSafeOnAnyObject(t *testing.T) {
	for _, r := range Builtin() {
		t.Run(r.Group+"/"+r.Resource, func(t *testing.T) {
			s := r.Strategy
			o, old := r.New(), r.New()
			s.PrepareForCreate(o)
			s.Default(o)
			_ = s.Validate(o)
			s.PrepareForUpdate(o, old)
			_ = s.ValidateUpdate(o, old)
			_ = s.FieldSet(o)

			foreign, foreignOld := &corev1.Binding{}, &corev1.Binding{}
			s.PrepareForCreate(foreign)
			s.Default(foreign)
			if errs := s.Validate(foreign); len(errs) != 0 {
				t.Errorf("Validate(foreign) = %v", errs)
			}
			s.PrepareForUpdate(foreign, foreignOld)
			if errs := s.ValidateUpdate(foreign, foreignOld); len(errs) != 0 {
				t.Errorf("ValidateUpdate(foreign) = %v", errs)
			}
			if fs := s.FieldSet(foreign); fs != nil {
				t.Errorf("FieldSet(foreign) = %v", fs)
			}
		})
	}
}
