package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestEndpoints(t *testing.T) {
	s := strategyOf(t, "", "v1", "endpoints")
	ep := &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5", NodeName: new("node-1")}},
		Ports:     []corev1.EndpointPort{{Port: 80}},
	}}}
	checkErrors(t, create(s, ep))
	if ep.Subsets[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol = %q, want TCP", ep.Subsets[0].Ports[0].Protocol)
	}

	bad := &corev1.Endpoints{ObjectMeta: meta("web"), Subsets: []corev1.EndpointSubset{
		{Ports: []corev1.EndpointPort{{Port: 80}}},
		{Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}, {IP: "x"}}, Ports: []corev1.EndpointPort{{Port: 0, Name: "a"}, {Port: 81}}},
	}}
	checkErrors(t, create(s, bad), "Required subsets[0]", "Invalid subsets[1].addresses[0].ip", "Invalid subsets[1].addresses[1].ip",
		"Invalid subsets[1].ports[0].port", "Required subsets[1].ports[1].name")
}
