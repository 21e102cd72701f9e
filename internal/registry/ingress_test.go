package registry

import (
	corev1 "k8s.io/api/core/v1"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func newIngress() *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: meta("web"), Spec: networkingv1.IngressSpec{
		IngressClassName: new("skiff"),
		Rules: []networkingv1.IngressRule{{
			Host: "shop.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: new(networkingv1.PathTypePrefix),
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}},
		TLS: []networkingv1.IngressTLS{{Hosts: []string{"*.example.com"}, SecretName: "tls"}},
	}}
}

func TestIngressValidation(t *testing.T) {
	s := strategyOf(t, "networking.k8s.io", "v1", "ingresses")
	path := func(i *networkingv1.Ingress) *networkingv1.HTTPIngressPath { return &i.Spec.Rules[0].HTTP.Paths[0] }
	tests := []struct {
		name   string
		mutate func(*networkingv1.Ingress)
		want   []string
	}{
		{"valid", func(*networkingv1.Ingress) {}, nil},
		{"no path type", func(i *networkingv1.Ingress) { path(i).PathType = nil }, []string{"Required spec.rules[0].http.paths[0].pathType"}},
		{"bad path type", func(i *networkingv1.Ingress) { path(i).PathType = new(networkingv1.PathType("Regex")) },
			[]string{"NotSupported spec.rules[0].http.paths[0].pathType"}},
		{"relative path", func(i *networkingv1.Ingress) { path(i).Path = "api" }, []string{"Invalid spec.rules[0].http.paths[0].path"}},
		{"traversal", func(i *networkingv1.Ingress) { path(i).Path = "/a/../b" }, []string{"Invalid spec.rules[0].http.paths[0].path"}},
		{"no backend", func(i *networkingv1.Ingress) { path(i).Backend = networkingv1.IngressBackend{} },
			[]string{"Invalid spec.rules[0].http.paths[0].backend"}},
		{"no backend port", func(i *networkingv1.Ingress) { path(i).Backend.Service.Port = networkingv1.ServiceBackendPort{} },
			[]string{"Required spec.rules[0].http.paths[0].backend"}},
		{"both backend ports", func(i *networkingv1.Ingress) { path(i).Backend.Service.Port.Name = "http" },
			[]string{"Invalid spec.rules[0].http.paths[0].backend"}},
		{"bad service name", func(i *networkingv1.Ingress) { path(i).Backend.Service.Name = "Web" },
			[]string{"Invalid spec.rules[0].http.paths[0].backend.service.name"}},
		{"empty paths", func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths = nil }, []string{"Required spec.rules[0].http.paths"}},
		{"ip host", func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" }, []string{"Invalid spec.rules[0].host"}},
		{"no rules or default", func(i *networkingv1.Ingress) { i.Spec.Rules = nil }, []string{"Invalid spec"}},
		{"default backend only", func(i *networkingv1.Ingress) {
			i.Spec.Rules = nil
			i.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
				APIGroup: new("storage.example.com"), Kind: "Bucket", Name: "static"}}
		}, nil},
		{"class annotation mismatch", func(i *networkingv1.Ingress) {
			i.Annotations = map[string]string{ingressClassAnnotation: "nginx"}
		}, []string{"Invalid annotations.kubernetes.io/ingress.class"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ing := newIngress()
			tc.mutate(ing)
			checkErrors(t, create(s, ing), tc.want...)
		})
	}
	old := newIngress()
	edited := old.DeepCopy()
	path(edited).PathType = nil
	checkErrors(t, update(s, edited, old), "Required spec.rules[0].http.paths[0].pathType")
}
