package statefulset

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// parseName splits <parent>-<ordinal>; ordinal is -1 when the name has no numeric suffix.
func parseName(name string) (parent string, ordinal int) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name, -1
	}
	n, err := strconv.Atoi(name[i+1:])
	if err != nil || n < 0 || strconv.Itoa(n) != name[i+1:] {
		return name, -1
	}
	return name[:i], n
}

func ordinalOf(pod *corev1.Pod) int {
	_, o := parseName(pod.Name)
	return o
}

// isMemberOf reports whether pod is named like one of set's pods.
func isMemberOf(set *appsv1.StatefulSet, pod metav1.Object) bool {
	parent, o := parseName(pod.GetName())
	return o >= 0 && parent == set.Name
}

func podName(set *appsv1.StatefulSet, ordinal int) string {
	return fmt.Sprintf("%s-%d", set.Name, ordinal)
}

func claimName(set *appsv1.StatefulSet, tmpl *corev1.PersistentVolumeClaim, ordinal int) string {
	return fmt.Sprintf("%s-%s-%d", tmpl.Name, set.Name, ordinal)
}

func replicasOf(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals == nil {
		return 0
	}
	return int(set.Spec.Ordinals.Start)
}

func isParallel(set *appsv1.StatefulSet) bool {
	return set.Spec.PodManagementPolicy == appsv1.ParallelPodManagement
}

func isOnDelete(set *appsv1.StatefulSet) bool {
	return set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType
}

func partitionOf(set *appsv1.StatefulSet) int {
	ru := set.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.Partition == nil {
		return 0
	}
	return int(*ru.Partition)
}

func revisionOf(pod *corev1.Pod) string {
	return pod.Labels[appsv1.ControllerRevisionHashLabelKey]
}

// newPod builds pod `ordinal` of set from template, labelled with revision.
func newPod(set *appsv1.StatefulSet, template *corev1.PodTemplateSpec, revision string, ordinal int) *corev1.Pod {
	pod := controllerutil.PodFromTemplate(template, set, controllerKind)
	pod.GenerateName = ""
	pod.Name = podName(set, ordinal)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.ControllerRevisionHashLabelKey] = revision
	setIdentity(set, pod, ordinal)
	setStorage(set, pod, ordinal)
	return pod
}

// setIdentity gives the pod its stable network identity and identity labels.
func setIdentity(set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) {
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
}

func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	o := ordinalOf(pod)
	return pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(o) &&
		pod.Spec.Hostname == pod.Name && pod.Spec.Subdomain == set.Spec.ServiceName
}

// setStorage points the pod's volumes named after claim templates at its own claims.
func setStorage(set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) {
	for i := range set.Spec.VolumeClaimTemplates {
		tmpl := &set.Spec.VolumeClaimTemplates[i]
		vol := corev1.Volume{Name: tmpl.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claimName(set, tmpl, ordinal)},
		}}
		replaced := false
		for j := range pod.Spec.Volumes {
			if pod.Spec.Volumes[j].Name == tmpl.Name {
				pod.Spec.Volumes[j] = vol
				replaced = true
			}
		}
		if !replaced {
			pod.Spec.Volumes = append(pod.Spec.Volumes, vol)
		}
	}
}

// newClaim builds the PVC of template tmpl for ordinal.
func newClaim(set *appsv1.StatefulSet, tmpl *corev1.PersistentVolumeClaim, ordinal int) *corev1.PersistentVolumeClaim {
	lbls := maps.Clone(tmpl.Labels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	if set.Spec.Selector != nil {
		maps.Copy(lbls, set.Spec.Selector.MatchLabels)
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{
			Name:        claimName(set, tmpl, ordinal),
			Namespace:   set.Namespace,
			Labels:      lbls,
			Annotations: maps.Clone(tmpl.Annotations),
		},
		Spec: *tmpl.Spec.DeepCopy(),
	}
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil && p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		// Deleting the set garbage-collects the claim.
		ref := controllerutil.NewControllerRef(set, controllerKind)
		ref.Controller = nil
		claim.OwnerReferences = []metav1.OwnerReference{ref}
	}
	return claim
}

// templateFromRevision decodes the pod template stored in a ControllerRevision.
func templateFromRevision(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &patch); err != nil {
		return nil, fmt.Errorf("decoding controllerrevision %s: %w", rev.Name, err)
	}
	return &patch.Spec.Template, nil
}
