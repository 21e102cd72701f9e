package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func serviceStrategyForTest(t *testing.T) Strategy { return strategyOf(t, "", "v1", "services") }

func newService(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: meta(name), Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: ports,
	}}
}

func TestServiceDefaults(t *testing.T) {
	s := serviceStrategyForTest(t)
	t.Run("cluster ip", func(t *testing.T) {
		svc := newService("web", corev1.ServicePort{Port: 80})
		if errs := create(s, svc); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		want := corev1.ServiceSpec{
			Selector:              map[string]string{"app": "web"},
			Ports:                 []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
			Type:                  corev1.ServiceTypeClusterIP,
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: new(corev1.ServiceInternalTrafficPolicyCluster),
			IPFamilyPolicy:        new(corev1.IPFamilyPolicySingleStack),
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
		}
		if !apiequality.Semantic.DeepEqual(svc.Spec, want) {
			t.Errorf("spec = %+v\nwant %+v", svc.Spec, want)
		}
	})
	t.Run("load balancer", func(t *testing.T) {
		svc := newService("web", corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")})
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		if errs := create(s, svc); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		if svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster || svc.Spec.AllocateLoadBalancerNodePorts == nil ||
			!*svc.Spec.AllocateLoadBalancerNodePorts || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") {
			t.Errorf("spec = %+v", svc.Spec)
		}
		if c := svc.Spec.SessionAffinityConfig; c == nil || *c.ClientIP.TimeoutSeconds != 10800 {
			t.Errorf("session affinity config = %+v, want 10800s", c)
		}
	})
	t.Run("headless without selector", func(t *testing.T) {
		svc := newService("db")
		svc.Spec.Selector = nil
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		if errs := create(s, svc); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		if *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicyRequireDualStack || len(svc.Spec.ClusterIPs) != 1 || svc.Spec.ClusterIPs[0] != "None" {
			t.Errorf("spec = %+v", svc.Spec)
		}
	})
	t.Run("external name", func(t *testing.T) {
		svc := newService("ext")
		svc.Spec.Type = corev1.ServiceTypeExternalName
		svc.Spec.ExternalName = "example.com."
		if errs := create(s, svc); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		if svc.Spec.InternalTrafficPolicy != nil || svc.Spec.IPFamilies != nil || svc.Spec.IPFamilyPolicy != nil {
			t.Errorf("external name service got cluster IP fields: %+v", svc.Spec)
		}
	})
}

func TestServiceValidation(t *testing.T) {
	s := serviceStrategyForTest(t)
	tests := []struct {
		name   string
		mutate func(*corev1.Service)
		want   []string
	}{
		{"valid", func(*corev1.Service) {}, nil},
		{"no ports", func(svc *corev1.Service) { svc.Spec.Ports = nil }, []string{"Required spec.ports"}},
		{"headless without ports", func(svc *corev1.Service) { svc.Spec.Ports = nil; svc.Spec.ClusterIP = "None" }, nil},
		{"bad port numbers", func(svc *corev1.Service) {
			svc.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 0}, {Name: "b", Port: 70000, TargetPort: intstr.FromInt32(70000)}}
		}, []string{"Invalid spec.ports[0].port", "Invalid spec.ports[0].targetPort", "Invalid spec.ports[1].port", "Invalid spec.ports[1].targetPort"}},
		{"unnamed ports", func(svc *corev1.Service) {
			svc.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 443}}
		}, []string{"Required spec.ports[0].name", "Required spec.ports[1].name"}},
		{"duplicate ports", func(svc *corev1.Service) {
			svc.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80}, {Name: "a", Port: 80}}
		}, []string{"Duplicate spec.ports[1].name", "Duplicate spec.ports[1]"}},
		{"bad type", func(svc *corev1.Service) { svc.Spec.Type = "Magic" }, []string{"NotSupported spec.type"}},
		{"node port on cluster ip", func(svc *corev1.Service) { svc.Spec.Ports[0].NodePort = 30080 }, []string{"Forbidden spec.ports[0].nodePort"}},
		{"node port range", func(svc *corev1.Service) {
			svc.Spec.Type = corev1.ServiceTypeNodePort
			svc.Spec.Ports[0].NodePort = 80
		}, []string{"Invalid spec.ports[0].nodePort"}},
		{"node port ok", func(svc *corev1.Service) {
			svc.Spec.Type = corev1.ServiceTypeNodePort
			svc.Spec.Ports[0].NodePort = 30080
		}, nil},
		{"bad selector", func(svc *corev1.Service) { svc.Spec.Selector = map[string]string{"app": "a b"} }, []string{"Invalid spec.selector"}},
		{"bad cluster ip", func(svc *corev1.Service) { svc.Spec.ClusterIP = "10.0.0.300" },
			[]string{"Invalid spec.clusterIP", "Invalid spec.clusterIPs[0]"}},
		{"headless node port", func(svc *corev1.Service) {
			svc.Spec.Type = corev1.ServiceTypeNodePort
			svc.Spec.ClusterIP = "None"
		}, []string{"Invalid spec.clusterIP"}},
		{"external name without name", func(svc *corev1.Service) {
			svc.Spec.Type = corev1.ServiceTypeExternalName
		}, []string{"Required spec.externalName"}},
		{"external traffic policy on cluster ip", func(svc *corev1.Service) {
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}, []string{"Invalid spec.externalTrafficPolicy"}},
		{"session affinity", func(svc *corev1.Service) { svc.Spec.SessionAffinity = "Sticky" }, []string{"NotSupported spec.sessionAffinity"}},
		{"client ip timeout", func(svc *corev1.Service) {
			svc.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			svc.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(0))}}
		}, []string{"Invalid spec.sessionAffinityConfig.clientIP.timeoutSeconds"}},
		{"dual stack", func(svc *corev1.Service) {
			svc.Spec.IPFamilyPolicy = new(corev1.IPFamilyPolicyRequireDualStack)
			svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}, []string{"Invalid spec.ipFamilyPolicy", "Invalid spec.ipFamilies[1]"}},
		{"source ranges", func(svc *corev1.Service) { svc.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} },
			[]string{"Forbidden spec.loadBalancerSourceRanges"}},
		{"external ips", func(svc *corev1.Service) { svc.Spec.ExternalIPs = []string{"127.0.0.1", "nope"} },
			[]string{"Invalid spec.externalIPs[0]", "Invalid spec.externalIPs[1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService("web", corev1.ServicePort{Port: 80})
			tc.mutate(svc)
			checkErrors(t, create(s, svc), tc.want...)
		})
	}
}

func TestServiceUpdate(t *testing.T) {
	s := serviceStrategyForTest(t)
	allocated := func(t *testing.T, typ corev1.ServiceType) *corev1.Service {
		svc := newService("web", corev1.ServicePort{Name: "http", Port: 80})
		svc.Spec.Type = typ
		if errs := create(s, svc); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		// What the API server's allocator adds.
		svc.Spec.ClusterIP = "10.96.0.10"
		svc.Spec.ClusterIPs = []string{"10.96.0.10"}
		if typ == corev1.ServiceTypeNodePort {
			svc.Spec.Ports[0].NodePort = 30080
		}
		return svc
	}
	t.Run("reapplying the manifest keeps allocations", func(t *testing.T) {
		old := allocated(t, corev1.ServiceTypeNodePort)
		svc := newService("web", corev1.ServicePort{Name: "http", Port: 80})
		svc.Spec.Type = corev1.ServiceTypeNodePort
		checkErrors(t, update(s, svc, old))
		if svc.Spec.ClusterIP != "10.96.0.10" || svc.Spec.Ports[0].NodePort != 30080 {
			t.Errorf("allocations lost: %+v", svc.Spec)
		}
	})
	t.Run("cluster ip is immutable", func(t *testing.T) {
		old := allocated(t, corev1.ServiceTypeClusterIP)
		svc := old.DeepCopy()
		svc.Spec.ClusterIP = "10.96.0.11"
		errs := update(s, svc, old)
		checkErrors(t, errs, "Invalid spec.clusterIPs[0]")
		checkDetail(t, errs, "spec.clusterIPs[0]", "may not change once set")
	})
	t.Run("switching to external name drops the cluster ip", func(t *testing.T) {
		old := allocated(t, corev1.ServiceTypeClusterIP)
		svc := old.DeepCopy()
		svc.Spec.Type = corev1.ServiceTypeExternalName
		svc.Spec.ExternalName = "example.com"
		checkErrors(t, update(s, svc, old))
		if svc.Spec.ClusterIP != "" || svc.Spec.ClusterIPs != nil || svc.Spec.IPFamilies != nil {
			t.Errorf("cluster IP fields kept: %+v", svc.Spec)
		}
	})
	t.Run("switching node port to cluster ip drops node ports", func(t *testing.T) {
		old := allocated(t, corev1.ServiceTypeNodePort)
		svc := old.DeepCopy()
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		checkErrors(t, update(s, svc, old))
		if svc.Spec.Ports[0].NodePort != 0 || svc.Spec.ExternalTrafficPolicy != "" {
			t.Errorf("node port fields kept: %+v", svc.Spec)
		}
	})
	t.Run("changed node port on a cluster ip service fails", func(t *testing.T) {
		old := allocated(t, corev1.ServiceTypeNodePort)
		svc := old.DeepCopy()
		svc.Spec.Type = corev1.ServiceTypeClusterIP
		svc.Spec.Ports[0].NodePort = 30081
		checkErrors(t, update(s, svc, old), "Forbidden spec.ports[0].nodePort")
	})
}

func TestServiceFieldSet(t *testing.T) {
	svc := newService("web", corev1.ServicePort{Port: 80})
	svc.Spec.ClusterIP = "10.96.0.10"
	svc.Spec.Type = corev1.ServiceTypeNodePort
	want := fields.Set{"spec.clusterIP": "10.96.0.10", "spec.type": "NodePort"}
	if got := serviceStrategyForTest(t).FieldSet(svc); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}
