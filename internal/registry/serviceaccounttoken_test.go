package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMountServiceAccountToken(t *testing.T) {
	no, yes := false, true
	tests := []struct {
		name        string
		pod         corev1.Pod
		saAutomount *bool
		wantVolume  bool
		wantMounts  []bool // per container, init containers first
	}{
		{"default: every container", corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init"}},
			Containers:     []corev1.Container{{Name: "a"}, {Name: "b"}}}}, nil, true, []bool{true, true, true}},
		{"pod opts out", corev1.Pod{Spec: corev1.PodSpec{AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "a"}}}}, nil, false, []bool{false}},
		{"service account opts out", corev1.Pod{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "a"}}}}, &no, false, []bool{false}},
		{"pod overrides its service account", corev1.Pod{Spec: corev1.PodSpec{AutomountServiceAccountToken: &yes,
			Containers: []corev1.Container{{Name: "a"}}}}, &no, true, []bool{true}},
		{"a container with its own mount there keeps it", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: ServiceAccountTokenMountPath + "/"}}},
			{Name: "plain"}}}}, nil, true, []bool{false, true}},
		{"no container needs it: no volume", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "own", VolumeMounts: []corev1.VolumeMount{{Name: "mine", MountPath: ServiceAccountTokenMountPath}}}}}}, nil, false, []bool{false}},
		{"already admitted", corev1.Pod{Spec: corev1.PodSpec{
			Volumes:    []corev1.Volume{{Name: "kube-api-access-abcde"}},
			Containers: []corev1.Container{{Name: "a"}}}}, nil, false, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := tt.pod.DeepCopy()
			volumesBefore := len(pod.Spec.Volumes)
			MountServiceAccountToken(pod, tt.saAutomount, "x1y2z")
			added := len(pod.Spec.Volumes) > volumesBefore
			if added != tt.wantVolume {
				t.Fatalf("volume added = %v, want %v (%+v)", added, tt.wantVolume, pod.Spec.Volumes)
			}
			if added {
				v := pod.Spec.Volumes[len(pod.Spec.Volumes)-1]
				p := v.Projected
				if v.Name != "kube-api-access-x1y2z" || p == nil || len(p.Sources) != 3 ||
					p.Sources[0].ServiceAccountToken == nil || *p.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 ||
					p.Sources[1].ConfigMap == nil || p.Sources[1].ConfigMap.Name != "kube-root-ca.crt" ||
					p.Sources[2].DownwardAPI == nil || p.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" ||
					*p.DefaultMode != 0o644 {
					t.Errorf("token volume %+v", v)
				}
			}
			all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
			for i, c := range all {
				got := false
				for _, m := range c.VolumeMounts {
					if m.Name == "kube-api-access-x1y2z" && m.MountPath == ServiceAccountTokenMountPath && m.ReadOnly {
						got = true
					}
				}
				if got != tt.wantMounts[i] {
					t.Errorf("container %s token mount = %v, want %v", c.Name, got, tt.wantMounts[i])
				}
			}
		})
	}
}
