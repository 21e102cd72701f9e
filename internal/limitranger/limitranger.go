// Package limitranger applies a namespace's LimitRanges to the pods and persistent volume claims
// created in it, as upstream's LimitRanger admission does: containers without requests or limits
// get the ranges' defaults (and an annotation saying which), and objects outside a range's
// min, max or limit/request ratio are refused with upstream's wording. It does no I/O: the API
// server hands it the ranges.
package limitranger

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Annotation records on a pod which defaults the LimitRanger set.
const Annotation = "kubernetes.io/limit-ranger"

// AdmitPod sets the container defaults of ranges on pod, then checks pod against every range.
func AdmitPod(pod *corev1.Pod, ranges []*corev1.LimitRange) error {
	var errs []error
	for _, lr := range ranges {
		setPodDefaults(pod, lr)
		errs = append(errs, validatePod(pod, lr)...)
	}
	return utilerrors.NewAggregate(errs)
}

// AdmitPersistentVolumeClaim checks a claim's requested storage against every range.
func AdmitPersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim, ranges []*corev1.LimitRange) error {
	var errs []error
	for _, lr := range ranges {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypePersistentVolumeClaim {
				continue
			}
			for _, name := range sortedNames(item.Min) {
				// A claim's limits are not the user's ask: only its requests count.
				if err := minConstraint(item.Type, name, item.Min[name], pvc.Spec.Resources.Requests, nil); err != nil {
					errs = append(errs, err)
				}
			}
			for _, name := range sortedNames(item.Max) {
				if err := maxRequestConstraint(item.Type, name, item.Max[name], pvc.Spec.Resources.Requests); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return utilerrors.NewAggregate(errs)
}

// setPodDefaults gives every container the requests and limits lr defaults that it does not
// set itself, and notes them in the pod's limit-ranger annotation.
func setPodDefaults(pod *corev1.Pod, lr *corev1.LimitRange) {
	requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for name, q := range item.DefaultRequest {
			requests[name] = q.DeepCopy()
		}
		for name, q := range item.Default {
			limits[name] = q.DeepCopy()
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = mergeDefaults(&pod.Spec.Containers[i], "container", requests, limits, notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = mergeDefaults(&pod.Spec.InitContainers[i], "init container", requests, limits, notes)
	}
	if len(notes) == 0 {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[Annotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
}

func mergeDefaults(c *corev1.Container, what string, requests, limits corev1.ResourceList, notes []string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	var setRequests, setLimits []string
	for name, q := range limits {
		if _, ok := c.Resources.Limits[name]; !ok {
			c.Resources.Limits[name] = q.DeepCopy()
			setLimits = append(setLimits, string(name))
		}
	}
	for name, q := range requests {
		if _, ok := c.Resources.Requests[name]; !ok {
			c.Resources.Requests[name] = q.DeepCopy()
			setRequests = append(setRequests, string(name))
		}
	}
	if len(setRequests) > 0 {
		sort.Strings(setRequests)
		notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(setRequests, ", "), what, c.Name))
	}
	if len(setLimits) > 0 {
		sort.Strings(setLimits)
		notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(setLimits, ", "), what, c.Name))
	}
	return notes
}

func validatePod(pod *corev1.Pod, lr *corev1.LimitRange) []error {
	var errs []error
	check := func(item corev1.LimitRangeItem, requests, limits corev1.ResourceList) {
		for _, name := range sortedNames(item.Min) {
			if err := minConstraint(item.Type, name, item.Min[name], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
		for _, name := range sortedNames(item.Max) {
			if err := maxConstraint(item.Type, name, item.Max[name], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
		for _, name := range sortedNames(item.MaxLimitRequestRatio) {
			if err := ratioConstraint(item.Type, name, item.MaxLimitRequestRatio[name], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, item := range lr.Spec.Limits {
		switch item.Type {
		case corev1.LimitTypeContainer:
			for _, c := range pod.Spec.Containers {
				check(item, c.Resources.Requests, c.Resources.Limits)
			}
			for _, c := range pod.Spec.InitContainers {
				check(item, c.Resources.Requests, c.Resources.Limits)
			}
		case corev1.LimitTypePod:
			requests, limits := podRequirements(pod)
			check(item, requests, limits)
		}
	}
	return errs
}

// podRequirements are what a pod asks for as a whole, by upstream's helper: its containers'
// sum, or an init container's own where larger (init containers run one at a time, before
// them). Overhead is the runtime's, not the user's ask, and is left out.
func podRequirements(pod *corev1.Pod) (requests, limits corev1.ResourceList) {
	opts := resourcehelper.PodResourcesOptions{ExcludeOverhead: true}
	return resourcehelper.PodRequests(pod, opts), resourcehelper.PodLimits(pod, opts)
}

func minConstraint(t corev1.LimitType, name corev1.ResourceName, min resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, t, min.String())
	case req.Cmp(min) < 0:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, t, min.String(), req.String())
	case hasLim && lim.Cmp(min) < 0:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, t, min.String(), lim.String())
	}
	return nil
}

func maxConstraint(t corev1.LimitType, name corev1.ResourceName, max resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, t, max.String())
	case lim.Cmp(max) > 0:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, t, max.String(), lim.String())
	case hasReq && req.Cmp(max) > 0:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, max.String(), req.String())
	}
	return nil
}

func maxRequestConstraint(t corev1.LimitType, name corev1.ResourceName, max resource.Quantity, requests corev1.ResourceList) error {
	req, hasReq := requests[name]
	switch {
	case !hasReq:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, t, max.String())
	case req.Cmp(max) > 0:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, max.String(), req.String())
	}
	return nil
}

func ratioConstraint(t corev1.LimitType, name corev1.ResourceName, ratio resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	if !hasReq || req.IsZero() {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, t, ratio.String())
	}
	if !hasLim || lim.IsZero() {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, t, ratio.String())
	}
	// Milli-units keep fractional CPU exact; both sides are scaled alike.
	observed := float64(lim.MilliValue()) / float64(req.MilliValue())
	if observed > float64(ratio.MilliValue())/1000 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, t, ratio.String(), observed)
	}
	return nil
}

// sortedNames orders a list's resource names, so that several refusals read the same each time.
func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}
