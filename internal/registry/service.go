package registry

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedServiceTypes   = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	supportedAffinities     = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	supportedExternalPolicy = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	supportedInternalPolicy = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	supportedFamilyPolicies = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
	supportedIPFamilies     = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
)

const (
	// Service node ports come from this range, as on a default upstream cluster.
	nodePortMin = 30000
	nodePortMax = 32767
	// kubeletPort may not be exposed through a load balancer.
	kubeletPort = 10250
	// maxClientIPAffinitySeconds bounds ClientIP session affinity timeouts (one day).
	maxClientIPAffinitySeconds = 86400
	// clusterIPFamily is the one IP family of skiff's single-stack service network.
	clusterIPFamily = corev1.IPv4Protocol
)

type serviceStrategy struct{ baseStrategy }

func (serviceStrategy) Default(obj runtime.Object) {
	if svc, ok := obj.(*corev1.Service); ok {
		defaultService(svc)
	}
}

// serviceType is the type of a service, ClusterIP when left empty.
func serviceType(svc *corev1.Service) corev1.ServiceType {
	if svc.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return svc.Spec.Type
}

// externallyAccessible reports whether traffic from outside the cluster reaches the service.
func externallyAccessible(svc *corev1.Service) bool {
	t := serviceType(svc)
	return t == corev1.ServiceTypeLoadBalancer || t == corev1.ServiceTypeNodePort ||
		(t == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

func needsClusterIP(svc *corev1.Service) bool {
	return serviceType(svc) != corev1.ServiceTypeExternalName
}

func needsNodePort(svc *corev1.Service) bool {
	switch serviceType(svc) {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

func needsHealthCheckNodePort(svc *corev1.Service) bool {
	return serviceType(svc) == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func isHeadless(svc *corev1.Service) bool { return svc.Spec.ClusterIP == corev1.ClusterIPNone }

func defaultService(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	if spec.SessionAffinity == corev1.ServiceAffinityNone {
		spec.SessionAffinityConfig = nil
	}
	if spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		if c := spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{
				TimeoutSeconds: new(int32(corev1.DefaultClientIPServiceAffinitySeconds)),
			}}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(svc) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil && spec.Type != corev1.ServiceTypeExternalName {
		spec.InternalTrafficPolicy = new(corev1.ServiceInternalTrafficPolicyCluster)
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			spec.AllocateLoadBalancerNodePorts = new(true)
		}
		for i := range svc.Status.LoadBalancer.Ingress {
			if ing := &svc.Status.LoadBalancer.Ingress[i]; ing.IP != "" && ing.IPMode == nil {
				ing.IPMode = new(corev1.LoadBalancerIPModeVIP)
			}
		}
	}
	// Old clients only know clusterIP; keep clusterIPs in step with it.
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if spec.Type != corev1.ServiceTypeExternalName {
		defaultIPFamilies(svc)
	}
}

// defaultIPFamilies fills the IP family fields the way allocation on a single-stack cluster
// leaves them: one family, SingleStack, except for headless services without a selector,
// which upstream marks RequireDualStack so they follow whatever endpoints exist.
func defaultIPFamilies(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.IPFamilyPolicy == nil {
		if isHeadless(svc) && len(spec.Selector) == 0 {
			spec.IPFamilyPolicy = new(corev1.IPFamilyPolicyRequireDualStack)
		} else {
			spec.IPFamilyPolicy = new(corev1.IPFamilyPolicySingleStack)
		}
	}
	if len(spec.IPFamilies) == 0 {
		family := clusterIPFamily
		if addr, err := netip.ParseAddr(spec.ClusterIP); err == nil && addr.Is6() && !addr.Is4In6() {
			family = corev1.IPv6Protocol
		}
		spec.IPFamilies = []corev1.IPFamily{family}
	}
}

func (serviceStrategy) PrepareForUpdate(obj, old runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if !ok || !ok2 {
		return
	}
	keepAllocatedValues(svc, oldSvc)
	normalizeClusterIPs(svc, oldSvc)
	dropTypeDependentFields(svc, oldSvc)
}

// keepAllocatedValues copies what the cluster allocated (cluster IPs, IP families, node ports,
// health check port) into an update that left them out, so that re-applying a manifest which
// never named them keeps them instead of failing as an attempt to change them.
func keepAllocatedValues(svc, oldSvc *corev1.Service) {
	if needsClusterIP(oldSvc) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = oldSvc.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(oldSvc.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = slices.Clone(oldSvc.Spec.ClusterIPs)
		}
		if len(svc.Spec.IPFamilies) == 0 {
			svc.Spec.IPFamilies = slices.Clone(oldSvc.Spec.IPFamilies)
		}
		if svc.Spec.IPFamilyPolicy == nil && oldSvc.Spec.IPFamilyPolicy != nil {
			svc.Spec.IPFamilyPolicy = new(*oldSvc.Spec.IPFamilyPolicy)
		}
	}
	if needsNodePort(oldSvc) && needsNodePort(svc) {
		used := func(s *corev1.Service) sets.Set[int32] {
			ports := sets.New[int32]()
			for _, p := range s.Spec.Ports {
				if p.NodePort != 0 {
					ports.Insert(p.NodePort)
				}
			}
			return ports
		}
		taken := used(oldSvc).Intersection(used(svc))
		byName := map[string]int32{}
		for _, p := range oldSvc.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			if p := &svc.Spec.Ports[i]; p.NodePort == 0 && !taken.Has(byName[p.Name]) {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if needsHealthCheckNodePort(oldSvc) && needsHealthCheckNodePort(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = oldSvc.Spec.HealthCheckNodePort
	}
}

// normalizeClusterIPs keeps clusterIP and clusterIPs consistent when a client edits only one.
func normalizeClusterIPs(svc, oldSvc *corev1.Service) {
	if len(oldSvc.Spec.ClusterIPs) > 0 && len(svc.Spec.ClusterIPs) == 0 && oldSvc.Spec.ClusterIP == svc.Spec.ClusterIP {
		svc.Spec.ClusterIPs = slices.Clone(oldSvc.Spec.ClusterIPs)
	}
	if oldSvc.Spec.ClusterIP != svc.Spec.ClusterIP && slices.Equal(oldSvc.Spec.ClusterIPs, svc.Spec.ClusterIPs) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIPs = nil
		} else {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
	}
}

// dropTypeDependentFields clears fields the new type no longer uses, when the client left them
// as they were: switching NodePort to ClusterIP must not fail on the old node ports.
func dropTypeDependentFields(svc, oldSvc *corev1.Service) {
	if needsClusterIP(oldSvc) && !needsClusterIP(svc) {
		if svc.Spec.ClusterIP == oldSvc.Spec.ClusterIP && slices.Equal(svc.Spec.ClusterIPs, oldSvc.Spec.ClusterIPs) {
			svc.Spec.ClusterIP = ""
			svc.Spec.ClusterIPs = nil
		}
		if slices.Equal(svc.Spec.IPFamilies, oldSvc.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if equalPtr(svc.Spec.IPFamilyPolicy, oldSvc.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
		if equalPtr(svc.Spec.InternalTrafficPolicy, oldSvc.Spec.InternalTrafficPolicy) {
			svc.Spec.InternalTrafficPolicy = nil
		}
	}
	if needsNodePort(oldSvc) && !needsNodePort(svc) && sameNodePorts(svc, oldSvc) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheckNodePort(oldSvc) && !needsHealthCheckNodePort(svc) && svc.Spec.HealthCheckNodePort == oldSvc.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if serviceType(oldSvc) == corev1.ServiceTypeLoadBalancer && serviceType(svc) != corev1.ServiceTypeLoadBalancer {
		if equalPtr(svc.Spec.AllocateLoadBalancerNodePorts, oldSvc.Spec.AllocateLoadBalancerNodePorts) {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if equalPtr(svc.Spec.LoadBalancerClass, oldSvc.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
	if externallyAccessible(oldSvc) && !externallyAccessible(svc) && svc.Spec.ExternalTrafficPolicy == oldSvc.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
}

// sameNodePorts reports whether every port of svc kept the node port its namesake had in oldSvc.
func sameNodePorts(svc, oldSvc *corev1.Service) bool {
	old := map[string]int32{}
	for _, p := range oldSvc.Spec.Ports {
		old[p.Name] = p.NodePort
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && p.NodePort != old[p.Name] {
			return false
		}
	}
	return true
}

// equalPtr reports whether two optional values are both unset or both set to the same value.
func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (serviceStrategy) Validate(obj runtime.Object) field.ErrorList {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	return validateService(svc)
}

func validateService(svc *corev1.Service) field.ErrorList {
	// The API server checks the name itself (a DNS-1035 label for services).
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	spec := &svc.Spec
	headless := isHeadless(svc)

	errs = append(errs, validateEnum(spec.Type, supportedServiceTypes, specPath.Child("type"))...)
	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer:
		for i, p := range spec.Ports {
			if p.Port == kubeletPort {
				errs = append(errs, field.Invalid(specPath.Child("ports").Index(i), p.Port, fmt.Sprintf("may not expose port %v externally since it is used by kubelet", kubeletPort)))
			}
		}
		if headless {
			errs = append(errs, field.Invalid(specPath.Child("clusterIP"), spec.ClusterIP, "may not be set to 'None' for LoadBalancer services"))
		}
	case corev1.ServiceTypeNodePort:
		if headless {
			errs = append(errs, field.Invalid(specPath.Child("clusterIP"), spec.ClusterIP, "may not be set to 'None' for NodePort services"))
		}
	case corev1.ServiceTypeExternalName:
		if spec.ClusterIP != "" {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIP"), "may not be set for ExternalName services"))
		}
		if len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// A trailing dot marks the name as fully qualified.
		if name := strings.TrimSuffix(spec.ExternalName, "."); name != "" {
			errs = append(errs, validateDNS1123Subdomain(name, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	errs = append(errs, validateServicePorts(svc, specPath.Child("ports"))...)
	if spec.Selector != nil {
		errs = append(errs, validateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, validateEnum(spec.SessionAffinity, supportedAffinities, specPath.Child("sessionAffinity"))...)
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityClientIP:
		errs = append(errs, validateClientIPAffinity(spec.SessionAffinityConfig, specPath.Child("sessionAffinityConfig"))...)
	case corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	}
	errs = append(errs, validateClusterIPs(svc, specPath)...)
	for i, ip := range spec.ExternalIPs {
		p := specPath.Child("externalIPs").Index(i)
		if ipErrs := validation.IsValidIP(p, ip); len(ipErrs) > 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = append(errs, validateNonSpecialIP(ip, p)...)
		}
	}
	if len(spec.LoadBalancerSourceRanges) > 0 {
		p := specPath.Child("loadBalancerSourceRanges")
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, r := range spec.LoadBalancerSourceRanges {
			if _, err := netip.ParsePrefix(strings.TrimSpace(r)); err != nil {
				errs = append(errs, field.Invalid(p.Index(i), r, "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "))
			}
		}
	}
	if spec.LoadBalancerClass != nil {
		if spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		} else {
			errs = append(errs, validateQualifiedName(*spec.LoadBalancerClass, specPath.Child("loadBalancerClass"))...)
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	errs = append(errs, validateTrafficPolicies(svc, specPath)...)
	return errs
}

func validateServicePorts(svc *corev1.Service, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	spec := &svc.Spec
	names := sets.New[string]()
	nodePorts := map[string]bool{}
	portKeys := map[string]bool{}
	for i, p := range spec.Ports {
		idxPath := fldPath.Index(i)
		if len(spec.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(idxPath.Child("name"), ""))
		} else if p.Name != "" {
			errs = append(errs, validateDNS1123Label(p.Name, idxPath.Child("name"))...)
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(idxPath.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		errs = append(errs, messagesAt(idxPath.Child("port"), p.Port, validation.IsValidPortNum(int(p.Port)))...)
		errs = append(errs, validateEnum(p.Protocol, supportedPortProtocols, idxPath.Child("protocol"))...)
		errs = append(errs, validatePortNumOrName(p.TargetPort, idxPath.Child("targetPort"))...)
		if p.AppProtocol != nil {
			errs = append(errs, validateQualifiedName(*p.AppProtocol, idxPath.Child("appProtocol"))...)
		}
		if p.NodePort != 0 {
			switch {
			case spec.Type == corev1.ServiceTypeClusterIP:
				errs = append(errs, field.Forbidden(idxPath.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			case p.NodePort < nodePortMin || p.NodePort > nodePortMax:
				errs = append(errs, field.Invalid(idxPath.Child("nodePort"), p.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", nodePortMin, nodePortMax)))
			}
			key := fmt.Sprintf("%s/%d", p.Protocol, p.NodePort)
			if nodePorts[key] {
				errs = append(errs, field.Duplicate(idxPath.Child("nodePort"), p.NodePort))
			}
			nodePorts[key] = true
		}
		key := fmt.Sprintf("%s/%d", p.Protocol, p.Port)
		if portKeys[key] {
			errs = append(errs, field.Duplicate(idxPath, corev1.ServicePort{Protocol: p.Protocol, Port: p.Port}))
		}
		portKeys[key] = true
	}
	return errs
}

func validateClientIPAffinity(cfg *corev1.SessionAffinityConfig, fldPath *field.Path) field.ErrorList {
	switch {
	case cfg == nil:
		return field.ErrorList{field.Required(fldPath, fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP))}
	case cfg.ClientIP == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP"), fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP))}
	case cfg.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(fldPath.Child("clientIP", "timeoutSeconds"), fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP))}
	case *cfg.ClientIP.TimeoutSeconds <= 0 || *cfg.ClientIP.TimeoutSeconds > maxClientIPAffinitySeconds:
		return field.ErrorList{field.Invalid(fldPath.Child("clientIP", "timeoutSeconds"), *cfg.ClientIP.TimeoutSeconds,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// validateClusterIPs checks clusterIP, clusterIPs and the IP family fields, which the cluster
// fills on allocation but clients may also set.
func validateClusterIPs(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	ipsPath := specPath.Child("clusterIPs")
	if spec.ClusterIP != "" {
		if spec.ClusterIP != corev1.ClusterIPNone {
			if _, err := netip.ParseAddr(spec.ClusterIP); err != nil {
				errs = append(errs, field.Invalid(specPath.Child("clusterIP"), spec.ClusterIP, "must be empty, 'None', or a valid IP address"))
			}
		}
		if len(spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(ipsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) > 0 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		errs = append(errs, validation.IsValidIP(ipsPath.Index(i), ip)...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	familiesPath := specPath.Child("ipFamilies")
	seen := sets.New[corev1.IPFamily]()
	for i, f := range spec.IPFamilies {
		switch {
		case !slices.Contains(supportedIPFamilies, f):
			errs = append(errs, field.NotSupported(familiesPath.Index(i), f, supportedIPFamilies))
		case seen.Has(f):
			errs = append(errs, field.Duplicate(familiesPath.Index(i), f))
		case f != clusterIPFamily:
			errs = append(errs, field.Invalid(familiesPath.Index(i), f, "not configured on this cluster"))
		}
		seen.Insert(f)
	}
	if p := spec.IPFamilyPolicy; p != nil {
		errs = append(errs, validateEnum(*p, supportedFamilyPolicies, specPath.Child("ipFamilyPolicy"))...)
		// Only selectorless headless services may demand two families on a single-stack cluster.
		if *p == corev1.IPFamilyPolicyRequireDualStack && !(isHeadless(svc) && len(spec.Selector) == 0) {
			errs = append(errs, field.Invalid(specPath.Child("ipFamilyPolicy"), *p, "this cluster is not configured for dual-stack services"))
		}
	}
	return errs
}

func validateTrafficPolicies(svc *corev1.Service, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	spec := &svc.Spec
	etpPath := specPath.Child("externalTrafficPolicy")
	if !externallyAccessible(svc) {
		if spec.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(etpPath, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	} else {
		errs = append(errs, validateEnum(spec.ExternalTrafficPolicy, supportedExternalPolicy, etpPath)...)
	}
	hcPath := specPath.Child("healthCheckNodePort")
	if !needsHealthCheckNodePort(svc) {
		if spec.HealthCheckNodePort != 0 {
			errs = append(errs, field.Invalid(hcPath, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	} else if spec.HealthCheckNodePort != 0 {
		errs = append(errs, messagesAt(hcPath, spec.HealthCheckNodePort, validation.IsValidPortNum(int(spec.HealthCheckNodePort)))...)
	}
	itpPath := specPath.Child("internalTrafficPolicy")
	switch {
	case spec.Type == corev1.ServiceTypeExternalName:
	case spec.InternalTrafficPolicy == nil:
		errs = append(errs, field.Required(itpPath, ""))
	default:
		errs = append(errs, validateEnum(*spec.InternalTrafficPolicy, supportedInternalPolicy, itpPath)...)
	}
	return errs
}

// validateNonSpecialIP rejects addresses that make no sense as service or endpoint addresses.
func validateNonSpecialIP(ip string, fldPath *field.Path) field.ErrorList {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, ip, "must be a valid IP address")}
	}
	addr = addr.Unmap()
	switch {
	case addr.IsUnspecified():
		return field.ErrorList{field.Invalid(fldPath, ip, fmt.Sprintf("may not be unspecified (%v)", ip))}
	case addr.IsLoopback():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)")}
	case addr.IsLinkLocalUnicast():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")}
	case addr.IsLinkLocalMulticast():
		return field.ErrorList{field.Invalid(fldPath, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")}
	}
	return nil
}

func (s serviceStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	svc, ok := obj.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if !ok || !ok2 {
		return nil
	}
	errs := validateService(svc)
	errs = append(errs, validateClusterIPsUpdate(svc, oldSvc)...)
	if needsClusterIP(svc) && needsClusterIP(oldSvc) && !isHeadless(svc) && !isHeadless(oldSvc) &&
		len(oldSvc.Spec.IPFamilies) > 0 && len(svc.Spec.IPFamilies) > 0 && svc.Spec.IPFamilies[0] != oldSvc.Spec.IPFamilies[0] {
		errs = append(errs, field.Invalid(field.NewPath("spec", "ipFamilies").Index(0), svc.Spec.IPFamilies, "may not change once set"))
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && oldSvc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		!equalPtr(svc.Spec.LoadBalancerClass, oldSvc.Spec.LoadBalancerClass) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "loadBalancerClass"), svc.Spec.LoadBalancerClass, "may not change once set"))
	}
	return errs
}

// validateClusterIPsUpdate keeps the allocated primary cluster IP fixed, except when the
// service turns into or out of an ExternalName service (which has none).
func validateClusterIPsUpdate(svc, oldSvc *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || oldSvc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	if isHeadless(oldSvc) && isHeadless(svc) {
		return nil
	}
	ipsPath := field.NewPath("spec", "clusterIPs")
	oldIPs, newIPs := oldSvc.Spec.ClusterIPs, svc.Spec.ClusterIPs
	switch {
	case len(oldIPs) == 0:
		return nil
	case len(newIPs) == 0:
		return field.ErrorList{field.Invalid(ipsPath.Index(0), newIPs, "primary clusterIP can not be unset")}
	case newIPs[0] != oldIPs[0]:
		return field.ErrorList{field.Invalid(ipsPath.Index(0), newIPs, "may not change once set")}
	}
	return nil
}

// FieldSet returns the fields services can be selected by.
func (serviceStrategy) FieldSet(obj runtime.Object) fields.Set {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil
	}
	return fields.Set{
		"spec.clusterIP": svc.Spec.ClusterIP,
		"spec.type":      string(svc.Spec.Type),
	}
}
