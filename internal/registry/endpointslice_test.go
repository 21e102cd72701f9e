package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestEndpointSlice(t *testing.T) {
	s := strategyOf(t, "discovery.k8s.io", "v1", "endpointslices")
	es := &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.5"}, NodeName: new("node-1")}},
		Ports:     []discoveryv1.EndpointPort{{Port: new(int32(80))}},
	}
	checkErrors(t, create(s, es))
	if p := es.Ports[0]; p.Name == nil || *p.Name != "" || p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP {
		t.Errorf("port = %+v, want name \"\" and TCP", p)
	}

	bad := &discoveryv1.EndpointSlice{ObjectMeta: meta("web-abc"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{}, {Addresses: []string{"fd00::1"}}, {Addresses: []string{"10.0.0.1"}, Hostname: new("a.b")}},
		Ports:     []discoveryv1.EndpointPort{{Name: new("http")}, {Name: new("http"), Port: new(int32(70000))}},
	}
	checkErrors(t, create(s, bad), "Required endpoints[0].addresses", "Invalid endpoints[1].addresses[0]", "Invalid endpoints[2].hostname",
		"Duplicate ports[1].name", "Invalid ports[1].port")
	checkErrors(t, create(s, &discoveryv1.EndpointSlice{ObjectMeta: meta("x")}), "Required addressType")

	changed := es.DeepCopy()
	changed.AddressType = discoveryv1.AddressTypeFQDN
	changed.Endpoints[0].Addresses = []string{"web.example.com"}
	checkErrors(t, update(s, changed, es), "Invalid addressType")
}
