package printers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ingressPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
			column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
			column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
			column("Ports", "string", "Ports of TLS configurations that open"),
			ageColumn(),
		},
		Row: rowOf(func(ing *networkingv1.Ingress, now time.Time) ([]interface{}, error) {
			ports := "80"
			if len(ing.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []interface{}{
				ing.Name, stringPtrOr(ing.Spec.IngressClassName, none), ingressHosts(ing.Spec.Rules),
				strings.Join(ingressAddresses(ing.Status.LoadBalancer.Ingress), ","), ports, AgeSince(ing.CreationTimestamp.Time, now),
			}, nil
		}),
	}
}

// ingressHosts lists the first three rule hosts, "*" when no rule names one.
// Any rule after the third host counts as more, as upstream counts them.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const limit = 3
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == limit {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	if more {
		return fmt.Sprintf("%s + %d more...", strings.Join(hosts, ","), len(rules)-limit)
	}
	return strings.Join(hosts, ",")
}

// ingressAddresses lists an Ingress's load balancer addresses as loadBalancerAddresses does a
// Service's.
func ingressAddresses(ingress []networkingv1.IngressLoadBalancerIngress) []string {
	lb := make([]corev1.LoadBalancerIngress, len(ingress))
	for i, in := range ingress {
		lb[i] = corev1.LoadBalancerIngress{IP: in.IP, Hostname: in.Hostname}
	}
	return loadBalancerAddresses(lb)
}

func ingressClassPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Controller", "string", "Controller that is responsible for handling this class"),
			column("Parameters", "string", "A reference to a resource with additional parameters"),
			ageColumn(),
		},
		Row: rowOf(func(ic *networkingv1.IngressClass, now time.Time) ([]interface{}, error) {
			params := none
			if p := ic.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []interface{}{ic.Name, ic.Spec.Controller, params, AgeSince(ic.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func networkPolicyPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Pod-Selector", "string", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
			ageColumn(),
		},
		Row: rowOf(func(np *networkingv1.NetworkPolicy, now time.Time) ([]interface{}, error) {
			return []interface{}{np.Name, selectorString(&np.Spec.PodSelector), AgeSince(np.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func endpointSlicePrinter() Printer {
	doc := discoveryv1.EndpointSlice{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("AddressType", "string", doc["addressType"]),
			column("Ports", "string", doc["ports"]),
			column("Endpoints", "string", doc["endpoints"]),
			ageColumn(),
		},
		Row: rowOf(func(es *discoveryv1.EndpointSlice, now time.Time) ([]interface{}, error) {
			ports := make([]string, 0, len(es.Ports))
			for _, p := range es.Ports {
				// A port without a number matches every port of its name.
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			var addrs []string
			for _, ep := range es.Endpoints {
				addrs = append(addrs, ep.Addresses...)
			}
			return []interface{}{
				es.Name, string(es.AddressType), orUnset(listWithMore(ports, 3)), orUnset(listWithMore(addrs, 3)),
				AgeSince(es.CreationTimestamp.Time, now),
			}, nil
		}),
	}
}

func orUnset(s string) string {
	if s == "" {
		return unset
	}
	return s
}
