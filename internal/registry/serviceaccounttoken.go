package registry

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ServiceAccountTokenMountPath is where every container finds its service
// account's token, the cluster CA and its namespace (client-go's in-cluster
// configuration reads them there).
const ServiceAccountTokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// tokenExpirationSeconds is upstream's: an hour plus 7 s, so a token the
// node agent refreshes at 80% of its life never runs out in between.
const tokenExpirationSeconds = 3607

// MountServiceAccountToken does for a new pod what upstream's ServiceAccount
// admission does: unless the pod (or, when the pod does not say, its service
// account — saAutomount) opts out, it adds a projected volume named
// "kube-api-access-"+suffix holding a bound token, the cluster CA from the
// kube-root-ca.crt ConfigMap and the namespace, and mounts it read-only at
// ServiceAccountTokenMountPath in every container that mounts nothing there.
func MountServiceAccountToken(pod *corev1.Pod, saAutomount *bool, suffix string) {
	automount := true
	switch {
	case pod.Spec.AutomountServiceAccountToken != nil:
		automount = *pod.Spec.AutomountServiceAccountToken
	case saAutomount != nil:
		automount = *saAutomount
	}
	if !automount {
		return
	}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			return // already admitted (a pod recreated from its own manifest)
		}
	}
	name := "kube-api-access-" + suffix
	mounted := false
	mount := func(cs []corev1.Container) {
		for i := range cs {
			if hasMountAt(cs[i].VolumeMounts, ServiceAccountTokenMountPath) {
				continue
			}
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: ServiceAccountTokenMountPath})
			mounted = true
		}
	}
	mount(pod.Spec.InitContainers)
	mount(pod.Spec.Containers)
	if !mounted {
		return
	}
	expiration := int64(tokenExpirationSeconds)
	mode := int32(corev1.ProjectedVolumeSourceDefaultMode)
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &expiration, Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}},
			}}},
		},
	}}})
}

func hasMountAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if strings.TrimSuffix(m.MountPath, "/") == path {
			return true
		}
	}
	return false
}
