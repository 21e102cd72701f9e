package registry

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// defaultNotReadyTolerationSeconds is how long pods stay bound to a node that turned not-ready
// or unreachable before taint-based eviction removes them.
const defaultNotReadyTolerationSeconds int64 = 300

// podUpdatableFields is the list upstream prints when a pod update changes anything else.
const podUpdatableFields = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
	"`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

type podStrategy struct{ baseStrategy }

func (podStrategy) Default(obj runtime.Object) {
	if pod, ok := obj.(*corev1.Pod); ok {
		defaultPod(pod)
	}
}

// PrepareForCreate starts the pod Pending with its QoS class, and does what upstream's
// admission does for every pod: run it as the namespace's "default" service account unless
// told otherwise, and let it ride out a not-ready or unreachable node for five minutes.
func (podStrategy) PrepareForCreate(obj runtime.Object) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	spec := &pod.Spec
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = "default"
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName
	spec.Tolerations = addDefaultNodeTolerations(spec.Tolerations)
	pod.Status = corev1.PodStatus{
		Phase:    corev1.PodPending,
		QOSClass: podQOSClass(spec),
	}
}

// addDefaultNodeTolerations adds NoExecute tolerations of the not-ready and unreachable node
// taints unless the pod already tolerates them.
func addDefaultNodeTolerations(tolerations []corev1.Toleration) []corev1.Toleration {
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		tolerated := false
		for _, t := range tolerations {
			if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
				tolerated = true
				break
			}
		}
		if !tolerated {
			tolerations = append(tolerations, corev1.Toleration{
				Key:               key,
				Operator:          corev1.TolerationOpExists,
				Effect:            corev1.TaintEffectNoExecute,
				TolerationSeconds: new(defaultNotReadyTolerationSeconds),
			})
		}
	}
	return tolerations
}

func (podStrategy) Validate(obj runtime.Object) field.ErrorList {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	errs := validatePod(pod)
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

func validatePod(pod *corev1.Pod) field.ErrorList {
	return validatePodSpec(&pod.Spec, field.NewPath("spec"), podSpecExtras{})
}

func (podStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	pod, ok := obj.(*corev1.Pod)
	oldPod, ok2 := old.(*corev1.Pod)
	if !ok || !ok2 {
		return nil
	}
	return append(validatePod(pod), validatePodUpdate(pod, oldPod)...)
}

// validatePodUpdate enforces that a running pod's spec is fixed except for container images,
// a shorter active deadline, added tolerations, removed scheduling gates, and the node name
// the scheduler binds it to.
func validatePodUpdate(pod, oldPod *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	if len(pod.Spec.Containers) != len(oldPod.Spec.Containers) {
		return append(errs, field.Forbidden(specPath.Child("containers"), "pod updates may not add or remove containers"))
	}
	if len(pod.Spec.InitContainers) != len(oldPod.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath.Child("initContainers"), "pod updates may not add or remove containers"))
	}
	errs = append(errs, validateActiveDeadlineUpdate(pod.Spec.ActiveDeadlineSeconds, oldPod.Spec.ActiveDeadlineSeconds, specPath.Child("activeDeadlineSeconds"))...)
	errs = append(errs, validateOnlyAddedTolerations(pod.Spec.Tolerations, oldPod.Spec.Tolerations, specPath.Child("tolerations"))...)
	errs = append(errs, validateOnlyDeletedSchedulingGates(pod.Spec.SchedulingGates, oldPod.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)
	if pod.Spec.NodeName != oldPod.Spec.NodeName && oldPod.Spec.NodeName != "" {
		errs = append(errs, field.Invalid(specPath.Child("nodeName"), pod.Spec.NodeName, fieldImmutableErrorMsg))
	}
	if apiequality.Semantic.DeepEqual(pod.Spec, oldPod.Spec) {
		return errs
	}

	// Put the allowed changes back to their old values; anything still different is forbidden.
	munged := pod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = oldPod.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = oldPod.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = oldPod.Spec.ActiveDeadlineSeconds
	munged.Tolerations = oldPod.Spec.Tolerations
	munged.SchedulingGates = oldPod.Spec.SchedulingGates
	// Binding sets the node once; changing it afterwards is reported above.
	munged.NodeName = oldPod.Spec.NodeName
	// Ephemeral containers change through their own subresource.
	munged.EphemeralContainers = oldPod.Spec.EphemeralContainers
	if g := oldPod.Spec.TerminationGracePeriodSeconds; g != nil && *g < 0 &&
		pod.Spec.TerminationGracePeriodSeconds != nil && *pod.Spec.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = g
	}
	if !apiequality.Semantic.DeepEqual(*munged, oldPod.Spec) {
		errs = append(errs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%s",
			podUpdatableFields, diff.Diff(oldPod.Spec, *munged))))
	}
	return errs
}

// validateActiveDeadlineUpdate lets the deadline be set or shortened but never lengthened or removed.
func validateActiveDeadlineUpdate(newVal, oldVal *int64, fldPath *field.Path) field.ErrorList {
	switch {
	case newVal == nil && oldVal != nil:
		return field.ErrorList{field.Invalid(fldPath, newVal, "must not update from a positive integer to nil value")}
	case newVal != nil && oldVal != nil && *newVal > *oldVal:
		return field.ErrorList{field.Invalid(fldPath, *newVal, "must be less than or equal to previous value")}
	}
	return nil
}

// validateOnlyAddedTolerations checks that every old toleration is still there (only its
// tolerationSeconds may change).
func validateOnlyAddedTolerations(newTolerations, oldTolerations []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, old := range oldTolerations {
		found := false
		for _, t := range newTolerations {
			candidate := old
			candidate.TolerationSeconds = t.TolerationSeconds
			if reflect.DeepEqual(candidate, t) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return nil
}

// validateOnlyDeletedSchedulingGates checks that an update only removes scheduling gates.
func validateOnlyDeletedSchedulingGates(newGates, oldGates []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	old := sets.New[string]()
	for _, g := range oldGates {
		old.Insert(g.Name)
	}
	var errs field.ErrorList
	for i, g := range newGates {
		if !old.Has(g.Name) {
			errs = append(errs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// FieldSet returns the fields pods can be selected by, as upstream serves them.
func (podStrategy) FieldSet(obj runtime.Object) fields.Set {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	podIP := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         fmt.Sprint(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             podIP,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}
