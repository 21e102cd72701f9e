package registry

import (
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestPodDisruptionBudget(t *testing.T) {
	s := strategyOf(t, "policy", "v1", "poddisruptionbudgets")
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: meta("web"), Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: new(intstr.FromString("50%")), Selector: webSelector()}}
	checkErrors(t, create(s, pdb))

	bad := &policyv1.PodDisruptionBudget{ObjectMeta: meta("web"), Spec: policyv1.PodDisruptionBudgetSpec{
		MinAvailable: new(intstr.FromInt32(-1)), MaxUnavailable: new(intstr.FromString("120%")), Selector: webSelector(),
		UnhealthyPodEvictionPolicy: new(policyv1.UnhealthyPodEvictionPolicyType("Never"))}}
	checkErrors(t, create(s, bad), "Invalid spec", "Invalid spec.minAvailable", "Invalid spec.maxUnavailable",
		"NotSupported spec.unhealthyPodEvictionPolicy")

	changed := pdb.DeepCopy()
	changed.Spec.MinAvailable = new(intstr.FromInt32(2))
	checkErrors(t, update(s, changed, pdb))
}
