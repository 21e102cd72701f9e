// Package podendpoint holds the rules, shared by the Endpoints and EndpointSlice controllers, that
// decide whether and how a pod backs a Service: which pods are listed at all, which port a
// service port resolves to in a pod, which address family of the pod is used, and which
// Services a pod event concerns (PodEvents).
package podendpoint

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ShouldPodBeInEndpoints reports whether pod is listed for a Service at all (ready or not):
// it needs an IP, must not have finished for good given its restart policy and, unless
// includeTerminating, must not be terminating.
func ShouldPodBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	switch pod.Spec.RestartPolicy {
	case corev1.RestartPolicyNever:
		return pod.Status.Phase != corev1.PodFailed && pod.Status.Phase != corev1.PodSucceeded
	case corev1.RestartPolicyOnFailure:
		return pod.Status.Phase != corev1.PodSucceeded
	default:
		return true
	}
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ShouldSetHostname reports whether the pod's hostname is published for svc: the pod asked for
// the service as its subdomain (StatefulSet pods behind their governing headless Service).
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace
}

// FindPort resolves a service port's targetPort in pod: a number is used as is, a name is looked
// up among the container ports of the same protocol.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	target := sp.TargetPort
	switch target.Type {
	case intstr.String:
		name := target.StrVal
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == name && protocolOf(p.Protocol) == protocolOf(sp.Protocol) {
					return p.ContainerPort, nil
				}
			}
		}
		return 0, fmt.Errorf("no container port named %q in pod %s/%s", name, pod.Namespace, pod.Name)
	default:
		if target.IntVal == 0 {
			return sp.Port, nil // targetPort defaults to port
		}
		return target.IntVal, nil
	}
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// PodIP returns the pod's IP of the given family ("IPv4" or "IPv6"), or "" if it has none.
func PodIP(pod *corev1.Pod, family corev1.IPFamily) string {
	ips := make([]string, 0, len(pod.Status.PodIPs)+1)
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = append(ips, pod.Status.PodIP)
	}
	for _, ip := range ips {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			continue
		}
		if (family == corev1.IPv6Protocol) == (addr.Is6() && !addr.Is4In6()) {
			return ip
		}
	}
	return ""
}

// ServiceFamilies returns the IP families a Service's endpoints are published for: the families
// the API server recorded, or the family of its ClusterIP, or IPv4.
func ServiceFamilies(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && ip.Is6() && !ip.Is4In6() {
		return []corev1.IPFamily{corev1.IPv6Protocol}
	}
	return []corev1.IPFamily{corev1.IPv4Protocol}
}

// Selects reports whether svc has a selector and it matches pod's labels. Services without a
// selector have their endpoints managed by users, not by the controllers.
func Selects(svc *corev1.Service, pod *corev1.Pod) bool {
	if svc.Spec.Selector == nil || svc.Namespace != pod.Namespace {
		return false
	}
	return labels.SelectorFromValidatedSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels))
}

// IsHeadless reports whether svc has no cluster IP.
func IsHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}
