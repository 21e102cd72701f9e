package registry

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

const (
	maxEndpointSliceEndpoints = 1000
	maxEndpointSlicePorts     = 100
	maxEndpointAddresses      = 100
)

type endpointSliceStrategy struct{ baseStrategy }

func (endpointSliceStrategy) Default(obj runtime.Object) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	for i := range es.Ports {
		p := &es.Ports[i]
		if p.Name == nil {
			p.Name = new("")
		}
		if p.Protocol == nil {
			p.Protocol = new(corev1.ProtocolTCP)
		}
	}
}

func (endpointSliceStrategy) Validate(obj runtime.Object) field.ErrorList {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil
	}
	return validateEndpointSlice(es)
}

func (endpointSliceStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	oldES, ok2 := old.(*discoveryv1.EndpointSlice)
	if !ok || !ok2 {
		return nil
	}
	errs := validateEndpointSlice(es)
	return append(errs, validateImmutable(es.AddressType, oldES.AddressType, field.NewPath("addressType"))...)
}

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateEnum(es.AddressType, supportedAddressTypes, field.NewPath("addressType"))
	endpointsPath := field.NewPath("endpoints")
	if len(es.Endpoints) > maxEndpointSliceEndpoints {
		errs = append(errs, field.TooMany(endpointsPath, len(es.Endpoints), maxEndpointSliceEndpoints))
	}
	for i := range es.Endpoints {
		ep := &es.Endpoints[i]
		p := endpointsPath.Index(i)
		addrPath := p.Child("addresses")
		switch {
		case len(ep.Addresses) == 0:
			errs = append(errs, field.Required(addrPath, "must contain at least 1 address"))
		case len(ep.Addresses) > maxEndpointAddresses:
			errs = append(errs, field.TooMany(addrPath, len(ep.Addresses), maxEndpointAddresses))
		}
		for j, a := range ep.Addresses {
			errs = append(errs, validateSliceAddress(es.AddressType, a, addrPath.Index(j))...)
		}
		if ep.Hostname != nil {
			errs = append(errs, validateDNS1123Label(*ep.Hostname, p.Child("hostname"))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, validateDNS1123Subdomain(*ep.NodeName, p.Child("nodeName"))...)
		}
		if ep.Zone != nil {
			errs = append(errs, validateLabels(map[string]string{corev1.LabelTopologyZone: *ep.Zone}, p.Child("zone"))...)
		}
	}

	portsPath := field.NewPath("ports")
	if len(es.Ports) > maxEndpointSlicePorts {
		errs = append(errs, field.TooMany(portsPath, len(es.Ports), maxEndpointSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range es.Ports {
		p := portsPath.Index(i)
		if port.Name != nil && *port.Name != "" {
			errs = append(errs, validateDNS1123Label(*port.Name, p.Child("name"))...)
		}
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else {
			errs = append(errs, validateEnum(*port.Protocol, supportedPortProtocols, p.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, messagesAt(p.Child("port"), *port.Port, validation.IsValidPortNum(int(*port.Port)))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, validateQualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return errs
}

// validateSliceAddress checks one endpoint address against the slice's address type.
func validateSliceAddress(t discoveryv1.AddressType, a string, fldPath *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		addr, err := netip.ParseAddr(a)
		if err != nil || addr.Zone() != "" {
			return field.ErrorList{field.Invalid(fldPath, a, "must be a valid IP address")}
		}
		if t == discoveryv1.AddressTypeIPv4 && !addr.Is4() {
			return field.ErrorList{field.Invalid(fldPath, a, "must be a valid IPv4 address")}
		}
		if t == discoveryv1.AddressTypeIPv6 && (!addr.Is6() || addr.Is4In6()) {
			return field.ErrorList{field.Invalid(fldPath, a, "must be a valid IPv6 address")}
		}
		return validateNonSpecialIP(a, fldPath)
	case discoveryv1.AddressTypeFQDN:
		return validateDNS1123Subdomain(strings.ToLower(a), fldPath)
	}
	return nil
}
