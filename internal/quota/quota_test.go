package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func list(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func pod(phase corev1.PodPhase, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: containers}, Status: corev1.PodStatus{Phase: phase}}
}

func ctr(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func TestUsage(t *testing.T) {
	class := "fast"
	cases := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want corev1.ResourceList
	}{
		{"running pod", schema.GroupResource{Resource: "pods"},
			pod(corev1.PodRunning, ctr("a", list("cpu", "250m", "memory", "64Mi"), list("cpu", "500m", "memory", "128Mi")), ctr("b", list("cpu", "250m"), nil)),
			list("pods", "1", "count/pods", "1", "cpu", "500m", "requests.cpu", "500m", "limits.cpu", "500m",
				"memory", "64Mi", "requests.memory", "64Mi", "limits.memory", "128Mi")},
		{"finished pod holds nothing", schema.GroupResource{Resource: "pods"}, pod(corev1.PodSucceeded, ctr("a", list("cpu", "1"), nil)), list()},
		{"init container larger than the sum", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{ctr("i", list("cpu", "2"), nil)}, Containers: []corev1.Container{ctr("a", list("cpu", "1"), nil)}}},
			list("pods", "1", "count/pods", "1", "cpu", "2", "requests.cpu", "2")},
		{"extended resource", schema.GroupResource{Resource: "pods"}, pod("", ctr("a", list("example.com/gpu", "1"), list("example.com/gpu", "1"))),
			list("pods", "1", "count/pods", "1", "requests.example.com/gpu", "1")},
		{"node port service", schema.GroupResource{Resource: "services"},
			&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}},
			list("services", "1", "count/services", "1", "services.nodeports", "2")},
		{"load balancer", schema.GroupResource{Resource: "services"},
			&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}},
			list("services", "1", "count/services", "1", "services.loadbalancers", "1", "services.nodeports", "1")},
		{"claim", schema.GroupResource{Resource: "persistentvolumeclaims"},
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class,
				Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "5Gi")}}},
			list("persistentvolumeclaims", "1", "count/persistentvolumeclaims", "1", "requests.storage", "5Gi",
				"fast.storageclass.storage.k8s.io/persistentvolumeclaims", "1", "fast.storageclass.storage.k8s.io/requests.storage", "5Gi")},
		{"configmap", schema.GroupResource{Resource: "configmaps"}, &corev1.ConfigMap{}, list("configmaps", "1", "count/configmaps", "1")},
		{"deployment", schema.GroupResource{Group: "apps", Resource: "deployments"}, &metav1.PartialObjectMetadata{}, list("count/deployments.apps", "1")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Usage(tc.gr, tc.obj); !apiequality.Semantic.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatchesScopes(t *testing.T) {
	deadline := int64(30)
	bestEffort := pod("", ctr("a", nil, nil))
	burstable := pod("", ctr("a", list("cpu", "1"), nil))
	terminating := pod("", ctr("a", nil, nil))
	terminating.Spec.ActiveDeadlineSeconds = &deadline
	scoped := func(s ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
		return &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: s}}
	}
	selected := func(r ...corev1.ScopedResourceSelectorRequirement) *corev1.ResourceQuota {
		return &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{ScopeSelector: &corev1.ScopeSelector{MatchExpressions: r}}}
	}
	pc := func(op corev1.ScopeSelectorOperator, values ...string) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: op, Values: values}
	}
	withClass := func(name string) *corev1.Pod {
		p := pod("", ctr("a", nil, nil))
		p.Spec.PriorityClassName = name
		return p
	}
	high, low := withClass("high"), withClass("low")
	crossNS := corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopeCrossNamespacePodAffinity, Operator: corev1.ScopeSelectorOpExists}
	withAffinity := func(term corev1.PodAffinityTerm) *corev1.Pod {
		p := pod("", ctr("a", nil, nil))
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: term}}}}
		return p
	}
	crossNSPod := withAffinity(corev1.PodAffinityTerm{TopologyKey: "zone", NamespaceSelector: &metav1.LabelSelector{}})
	sameNSPod := withAffinity(corev1.PodAffinityTerm{TopologyKey: "zone"})
	cases := []struct {
		name string
		rq   *corev1.ResourceQuota
		obj  runtime.Object
		want bool
	}{
		{"no scopes count everything", scoped(), &corev1.ConfigMap{}, true},
		{"best effort", scoped(corev1.ResourceQuotaScopeBestEffort), bestEffort, true},
		{"best effort skips burstable", scoped(corev1.ResourceQuotaScopeBestEffort), burstable, false},
		{"not best effort", scoped(corev1.ResourceQuotaScopeNotBestEffort), burstable, true},
		{"terminating", scoped(corev1.ResourceQuotaScopeTerminating), terminating, true},
		{"not terminating", scoped(corev1.ResourceQuotaScopeNotTerminating), terminating, false},
		{"all scopes must hold", scoped(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeBestEffort), terminating, true},
		{"scopes count pods only", scoped(corev1.ResourceQuotaScopeBestEffort), &corev1.ConfigMap{}, false},
		{"priority class in", selected(pc(corev1.ScopeSelectorOpIn, "high")), high, true},
		{"priority class in, another class", selected(pc(corev1.ScopeSelectorOpIn, "high")), low, false},
		{"priority class in, no class", selected(pc(corev1.ScopeSelectorOpIn, "high")), bestEffort, false},
		{"priority class not in", selected(pc(corev1.ScopeSelectorOpNotIn, "high")), low, true},
		{"priority class not in matches pods without one", selected(pc(corev1.ScopeSelectorOpNotIn, "high")), bestEffort, true},
		{"priority class exists", selected(pc(corev1.ScopeSelectorOpExists)), low, true},
		{"priority class exists, no class", selected(pc(corev1.ScopeSelectorOpExists)), bestEffort, false},
		{"priority class does not exist", selected(pc(corev1.ScopeSelectorOpDoesNotExist)), bestEffort, true},
		{"selector and scopes both hold", &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{
			Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}, ScopeSelector: &corev1.ScopeSelector{
				MatchExpressions: []corev1.ScopedResourceSelectorRequirement{pc(corev1.ScopeSelectorOpIn, "high")}}}}, high, false},
		{"selector scopes: best effort", selected(corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopeBestEffort,
			Operator: corev1.ScopeSelectorOpExists}), bestEffort, true},
		{"cross-namespace affinity", selected(crossNS), crossNSPod, true},
		{"cross-namespace affinity, same-namespace terms", selected(crossNS), sameNSPod, false},
		{"priority class scopes count pods only", selected(pc(corev1.ScopeSelectorOpExists)), &corev1.Service{}, false},
	}
	for _, tc := range cases {
		if got := Matches(tc.rq, tc.obj); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMissingRequests(t *testing.T) {
	cases := []struct {
		name string
		pod  *corev1.Pod
		hard corev1.ResourceList
		want string
	}{
		{"nothing limited", pod("", ctr("a", nil, nil)), list("pods", "10"), ""},
		{"all stated", pod("", ctr("a", list("cpu", "1", "memory", "1Gi"), list("cpu", "1", "memory", "1Gi"))),
			list("requests.cpu", "2", "limits.memory", "2Gi"), ""},
		{"missing", pod("", ctr("web", list("cpu", "1"), nil), ctr("db", nil, nil)),
			list("requests.cpu", "2", "limits.memory", "2Gi", "pods", "5"),
			"limits.memory for: db,web; requests.cpu for: db"},
	}
	for _, tc := range cases {
		if got := MissingRequests(tc.pod, tc.hard); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestExceeded(t *testing.T) {
	hard := list("pods", "2", "requests.cpu", "1")
	cases := []struct {
		used, delta corev1.ResourceList
		want        string
	}{
		{list("pods", "1", "requests.cpu", "500m"), list("pods", "1", "requests.cpu", "500m"), ""},
		{list("pods", "2", "requests.cpu", "0"), list("pods", "1"), "pods=1"},
		{list("pods", "1", "requests.cpu", "900m"), list("pods", "1", "requests.cpu", "200m", "configmaps", "1"), "requests.cpu=200m"},
	}
	for _, tc := range cases {
		if got := Format(tc.delta, Exceeded(hard, tc.used, tc.delta)); got != tc.want {
			t.Errorf("used %v delta %v: got %q, want %q", tc.used, tc.delta, got, tc.want)
		}
	}
}
