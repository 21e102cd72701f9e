package registry

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestNetworkPolicyDefaults(t *testing.T) {
	s := strategyOf(t, "networking.k8s.io", "v1", "networkpolicies")
	ingressOnly := &networkingv1.NetworkPolicy{ObjectMeta: meta("deny"), Spec: networkingv1.NetworkPolicySpec{
		Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{{Port: new(intstr.FromInt32(80))}}}},
	}}
	checkErrors(t, create(s, ingressOnly))
	if !slices.Equal(ingressOnly.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes = %v", ingressOnly.Spec.PolicyTypes)
	}
	if p := ingressOnly.Spec.Ingress[0].Ports[0].Protocol; p == nil || *p != corev1.ProtocolTCP {
		t.Errorf("protocol = %v, want TCP", p)
	}
	withEgress := &networkingv1.NetworkPolicy{ObjectMeta: meta("egress"), Spec: networkingv1.NetworkPolicySpec{
		Egress: []networkingv1.NetworkPolicyEgressRule{{}},
	}}
	checkErrors(t, create(s, withEgress))
	if !slices.Equal(withEgress.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) {
		t.Errorf("policyTypes = %v", withEgress.Spec.PolicyTypes)
	}
}

func TestNetworkPolicyValidation(t *testing.T) {
	s := strategyOf(t, "networking.k8s.io", "v1", "networkpolicies")
	np := &networkingv1.NetworkPolicy{ObjectMeta: meta("np"), Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From: []networkingv1.NetworkPolicyPeer{
				{},
				{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24"}}, PodSelector: &metav1.LabelSelector{}},
			},
			Ports: []networkingv1.NetworkPolicyPort{
				{Port: new(intstr.FromInt32(8000)), EndPort: new(int32(7000))},
				{Port: new(intstr.FromString("http")), EndPort: new(int32(9000))},
			},
		}},
		PolicyTypes: []networkingv1.PolicyType{"Sideways"},
	}}
	checkErrors(t, create(s, np), "Required spec.ingress[0].from[0]", "Forbidden spec.ingress[0].from[1]",
		"Invalid spec.ingress[0].from[1].ipBlock.except[0]", "Invalid spec.ingress[0].ports[0].endPort",
		"Invalid spec.ingress[0].ports[1].endPort", "NotSupported spec.policyTypes[0]")
}
