// Package quota says what objects count against a ResourceQuota and whether a new one still
// fits, as upstream's quota evaluators do: object counts (pods, services, configmaps, ...,
// count/<resource>.<group>), compute requests and limits of pods that have not finished, node
// ports and load balancers of services, storage of claims, and the quota scopes Terminating,
// NotTerminating, BestEffort and NotBestEffort. It does no I/O: the API server's admission and
// the resourcequota controller hand it the objects.
package quota

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	resourcehelper "k8s.io/component-helpers/resource"
)

// CountName is the object-count resource of a group/resource: count/pods, count/deployments.apps.
func CountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

// legacyCounts are the object counts with names of their own.
var legacyCounts = map[schema.GroupResource]corev1.ResourceName{
	{Resource: "pods"}:                   corev1.ResourcePods,
	{Resource: "services"}:               corev1.ResourceServices,
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
	{Resource: "persistentvolumeclaims"}: corev1.ResourcePersistentVolumeClaims,
}

// Usage is what obj, of resource gr, counts against a quota.
func Usage(gr schema.GroupResource, obj runtime.Object) corev1.ResourceList {
	one := resource.MustParse("1")
	u := corev1.ResourceList{}
	switch o := obj.(type) {
	case *corev1.Pod:
		if Finished(o) {
			return u // a finished pod holds nothing
		}
		u[corev1.ResourcePods] = one
		u[CountName(gr)] = one
		addPodCompute(u, o)
		return u
	case *corev1.Service:
		u[corev1.ResourceServices] = one
		u[CountName(gr)] = one
		if o.Spec.Type == corev1.ServiceTypeLoadBalancer {
			u[corev1.ResourceServicesLoadBalancers] = one
		}
		if o.Spec.Type == corev1.ServiceTypeNodePort || o.Spec.Type == corev1.ServiceTypeLoadBalancer {
			u[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(int64(len(o.Spec.Ports)), resource.DecimalSI)
		}
		return u
	case *corev1.PersistentVolumeClaim:
		u[corev1.ResourcePersistentVolumeClaims] = one
		u[CountName(gr)] = one
		storage := o.Spec.Resources.Requests[corev1.ResourceStorage]
		u[corev1.ResourceRequestsStorage] = storage
		if class := o.Spec.StorageClassName; class != nil && *class != "" {
			prefix := *class + ".storageclass.storage.k8s.io/"
			u[corev1.ResourceName(prefix+"persistentvolumeclaims")] = one
			u[corev1.ResourceName(prefix+"requests.storage")] = storage
		}
		return u
	}
	if name, ok := legacyCounts[gr]; ok {
		u[name] = one
	}
	u[CountName(gr)] = one
	return u
}

// Finished reports whether a pod has ended, after which quota no longer counts it.
func Finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// addPodCompute adds a pod's requests and limits as the scheduler sees them (upstream's helper:
// its containers' sum, or an init container's own where larger, plus the pod's overhead).
func addPodCompute(u corev1.ResourceList, pod *corev1.Pod) {
	requests := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	limits := resourcehelper.PodLimits(pod, resourcehelper.PodResourcesOptions{})
	for name, q := range computeUsage(requests, limits) {
		u[name] = q
	}
}

// computeUsage names requests and limits as quotas do: cpu and requests.cpu are both the
// request, limits.cpu the limit; extended resources count as requests.<name>.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	u := corev1.ResourceList{}
	for name, q := range requests {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
			u[name] = q
			u["requests."+name] = q
		default: // hugepages-2Mi, extended resources (example.com/gpu)
			u["requests."+name] = q
		}
	}
	for name, q := range limits {
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
			u["limits."+name] = q
		}
	}
	return u
}

func addTo(into, from corev1.ResourceList) {
	for name, q := range from {
		sum := into[name]
		sum.Add(q)
		into[name] = sum
	}
}

// Matches reports whether rq counts obj: a quota with scopes or a scope
// selector counts only the pods in all of them.
func Matches(rq *corev1.ResourceQuota, obj runtime.Object) bool {
	var reqs []corev1.ScopedResourceSelectorRequirement
	for _, s := range rq.Spec.Scopes {
		reqs = append(reqs, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if rq.Spec.ScopeSelector != nil {
		reqs = append(reqs, rq.Spec.ScopeSelector.MatchExpressions...)
	}
	if len(reqs) == 0 {
		return true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return false
	}
	for _, req := range reqs {
		if !podMatches(pod, req) {
			return false
		}
	}
	return true
}

// podMatches evaluates one scope requirement for pod. PriorityClass is a
// selector over the pod's priority class name, as upstream evaluates it: a
// label set with that one key, absent when the pod names no class (so NotIn
// and DoesNotExist match such pods). The other scopes only take Exists, which
// validation enforces.
func podMatches(pod *corev1.Pod, req corev1.ScopedResourceSelectorRequirement) bool {
	switch req.ScopeName {
	case corev1.ResourceQuotaScopePriorityClass:
		var op selection.Operator
		switch req.Operator {
		case corev1.ScopeSelectorOpIn:
			op = selection.In
		case corev1.ScopeSelectorOpNotIn:
			op = selection.NotIn
		case corev1.ScopeSelectorOpExists:
			op = selection.Exists
		case corev1.ScopeSelectorOpDoesNotExist:
			op = selection.DoesNotExist
		default:
			return false
		}
		r, err := labels.NewRequirement(string(corev1.ResourceQuotaScopePriorityClass), op, req.Values)
		if err != nil {
			return false
		}
		set := labels.Set{}
		if pod.Spec.PriorityClassName != "" {
			set[string(corev1.ResourceQuotaScopePriorityClass)] = pod.Spec.PriorityClassName
		}
		return r.Matches(set)
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod)
	}
	return podInScope(pod, req.ScopeName)
}

// crossNamespaceAffinity tells a pod whose (anti-)affinity terms reach other
// namespaces: a term naming namespaces or selecting them.
func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if a.PodAffinity != nil {
		terms = append(terms, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

func podInScope(pod *corev1.Pod, scope corev1.ResourceQuotaScope) bool {
	switch scope {
	case corev1.ResourceQuotaScopeTerminating:
		return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
	case corev1.ResourceQuotaScopeNotTerminating:
		return pod.Spec.ActiveDeadlineSeconds == nil || *pod.Spec.ActiveDeadlineSeconds < 0
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(pod)
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(pod)
	}
	return false
}

func bestEffort(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0 {
				return false
			}
		}
	}
	return true
}

// Tracked is usage restricted to the resources hard limits.
func Tracked(usage, hard corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range usage {
		if _, ok := hard[name]; ok {
			out[name] = q
		}
	}
	return out
}

// requiredPerContainer are the resources every container must state when a quota limits them
// (upstream keeps this rule for cpu and memory only).
var requiredPerContainer = map[corev1.ResourceName]bool{
	corev1.ResourceCPU: true, corev1.ResourceMemory: true,
	corev1.ResourceRequestsCPU: true, corev1.ResourceRequestsMemory: true,
	corev1.ResourceLimitsCPU: true, corev1.ResourceLimitsMemory: true,
}

// MissingRequests says which cpu and memory requests or limits that hard limits a pod's
// containers leave out, in upstream's words ("limits.cpu for: app; requests.memory for: app").
func MissingRequests(pod *corev1.Pod, hard corev1.ResourceList) string {
	missing := map[corev1.ResourceName][]string{}
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range cs {
			have := computeUsage(c.Resources.Requests, c.Resources.Limits)
			for name := range hard {
				if !requiredPerContainer[name] {
					continue
				}
				if _, ok := have[name]; !ok {
					missing[name] = append(missing[name], c.Name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return ""
	}
	parts := make([]string, 0, len(missing))
	for _, name := range sortedNames(missing) {
		names := missing[name]
		sort.Strings(names)
		parts = append(parts, fmt.Sprintf("%s for: %s", name, strings.Join(names, ",")))
	}
	return strings.Join(parts, "; ")
}

// Exceeded lists the resources whose hard limit used plus delta passes, nil when it fits.
func Exceeded(hard, used, delta corev1.ResourceList) []corev1.ResourceName {
	var over []corev1.ResourceName
	for name, q := range delta {
		limit, ok := hard[name]
		if !ok {
			continue
		}
		total := used[name].DeepCopy()
		total.Add(q)
		if total.Cmp(limit) > 0 {
			over = append(over, name)
		}
	}
	sort.Slice(over, func(i, j int) bool { return over[i] < over[j] })
	return over
}

// Format writes the named entries of l as upstream's quota messages do: "cpu=1,pods=2".
func Format(l corev1.ResourceList, names []corev1.ResourceName) string {
	parts := make([]string, 0, len(names))
	for _, name := range names {
		q := l[name]
		parts = append(parts, fmt.Sprintf("%s=%s", name, q.String()))
	}
	return strings.Join(parts, ",")
}

// Add returns a + b.
func Add(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		out[name] = q.DeepCopy()
	}
	addTo(out, b)
	return out
}

func sortedNames[V any](m map[corev1.ResourceName]V) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}
