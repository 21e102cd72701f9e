package controllerutil

import (
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// IsPodActive reports whether a pod still counts towards its owner's replicas: it has not finished
// (Succeeded/Failed) and is not being deleted.
func IsPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded &&
		p.Status.Phase != corev1.PodFailed &&
		p.DeletionTimestamp == nil
}

// IsPodTerminal reports whether the pod has finished for good.
func IsPodTerminal(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// PodReadyCondition returns the pod's Ready condition, or nil.
func PodReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether the pod's Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := PodReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable reports whether the pod has been Ready for at least minReadySeconds at now,
// which is upstream's definition of an available replica.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := PodReadyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds <= 0 {
		return true
	}
	return !c.LastTransitionTime.IsZero() &&
		!c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

// UntilAvailable returns how long from now until a Ready pod becomes available, or 0 if it already
// is or is not Ready at all (then there is nothing to wait for).
func UntilAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) time.Duration {
	c := PodReadyCondition(p)
	if minReadySeconds <= 0 || c == nil || c.Status != corev1.ConditionTrue {
		return 0
	}
	d := c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).Sub(now)
	if d < 0 {
		return 0
	}
	return d
}

// IsPodRunningAndReady is the StatefulSet notion of a healthy pod.
func IsPodRunningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && IsPodReady(p)
}

// maxGeneratedPrefix leaves room for the 5 random characters of a generated 63-character name.
const maxGeneratedPrefix = 58

// PodFromTemplate builds (does not create) a pod for owner from template, named <owner>-<random>
// and carrying owner's controller reference.
func PodFromTemplate(template *corev1.PodTemplateSpec, owner metav1.Object, gvk schema.GroupVersionKind) *corev1.Pod {
	prefix := owner.GetName() + "-"
	if len(prefix) > maxGeneratedPrefix {
		prefix = prefix[:maxGeneratedPrefix]
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    prefix,
			Namespace:       owner.GetNamespace(),
			Labels:          maps.Clone(template.Labels),
			Annotations:     maps.Clone(template.Annotations),
			Finalizers:      slices.Clone(template.Finalizers),
			OwnerReferences: []metav1.OwnerReference{NewControllerRef(owner, gvk)},
		},
		Spec: *template.Spec.DeepCopy(),
	}
}
