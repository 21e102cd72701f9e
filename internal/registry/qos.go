package registry

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// podQOSClass computes a pod's quality-of-service class the way upstream does:
// BestEffort when no container asks for cpu or memory, Guaranteed when every container limits
// both and requests equal limits, Burstable otherwise. A request left out next to a limit
// counts as equal to the limit, since defaulting will copy it there.
func podQOSClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	if r := spec.Resources; r != nil && (hasQOSResource(r.Requests) || hasQOSResource(r.Limits)) {
		// Pod-level resources decide alone; a pod-level request left out equals its limit.
		requests := corev1.ResourceList{}
		for name, q := range r.Limits {
			requests[name] = q
		}
		for name, q := range r.Requests {
			requests[name] = q
		}
		return qosOf(requests, r.Limits, true)
	}
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	guaranteed := true
	for _, containers := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for _, c := range containers {
			for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				limit, hasLimit := c.Resources.Limits[name]
				request, hasRequest := c.Resources.Requests[name]
				if !hasRequest && hasLimit {
					request, hasRequest = limit, true
				}
				if hasRequest && request.Sign() > 0 {
					addQuantity(requests, name, request)
				}
				if hasLimit && limit.Sign() > 0 {
					addQuantity(limits, name, limit)
				} else {
					guaranteed = false
				}
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	return qosOf(requests, limits, guaranteed)
}

// qosOf classifies summed (or pod-level) requests and limits.
func qosOf(requests, limits corev1.ResourceList, limitsComplete bool) corev1.PodQOSClass {
	if !hasQOSResource(requests) && !hasQOSResource(limits) {
		return corev1.PodQOSBestEffort
	}
	if !limitsComplete {
		return corev1.PodQOSBurstable
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		limit, ok := limits[name]
		if !ok || limit.Sign() <= 0 {
			return corev1.PodQOSBurstable
		}
		if request, ok := requests[name]; !ok || request.Cmp(limit) != 0 {
			return corev1.PodQOSBurstable
		}
	}
	return corev1.PodQOSGuaranteed
}

func hasQOSResource(list corev1.ResourceList) bool {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := list[name]; ok && q.Sign() > 0 {
			return true
		}
	}
	return false
}

func addQuantity(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	sum := q.DeepCopy()
	if prev, ok := list[name]; ok {
		sum.Add(prev)
	}
	list[name] = sum
}
