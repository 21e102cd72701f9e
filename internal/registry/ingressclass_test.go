package registry

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIngressClass(t *testing.T) {
	s := strategyOf(t, "networking.k8s.io", "v1", "ingressclasses")
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "skiff"}, Spec: networkingv1.IngressClassSpec{Controller: "skiff.sh/ingress"}}
	checkErrors(t, create(s, ic))
	checkErrors(t, create(s, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}}), "Required spec.controller")
	checkErrors(t, create(s, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: networkingv1.IngressClassSpec{
		Controller: "skiff.sh/ingress", Parameters: &networkingv1.IngressClassParametersReference{Kind: "Config", Name: "c", Scope: new("Namespace")}}}),
		"Required spec.parameters.namespace")

	moved := ic.DeepCopy()
	moved.Spec.Controller = "example.com/other"
	checkErrors(t, update(s, moved, ic), "Invalid spec.controller")
}
