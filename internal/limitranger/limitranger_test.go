package limitranger

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

func list(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func ranges(items ...corev1.LimitRangeItem) []*corev1.LimitRange {
	return []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: items}}}
}

func TestAdmitPod(t *testing.T) {
	// As the API server stores it: Default filled from Max, DefaultRequest from Default.
	defaults := corev1.LimitRangeItem{Type: corev1.LimitTypeContainer,
		Default: list("cpu", "500m", "memory", "256Mi"), DefaultRequest: list("cpu", "250m", "memory", "128Mi")}
	cases := []struct {
		name       string
		pod        corev1.Pod
		ranges     []*corev1.LimitRange
		err        string
		requests   corev1.ResourceList // of the first container, after admission
		limits     corev1.ResourceList
		annotation string
	}{
		{name: "no ranges", pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", nil, nil)}}}},
		{name: "defaults fill what is missing",
			pod:      corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("web", list("cpu", "100m"), nil)}}},
			ranges:   ranges(defaults),
			requests: list("cpu", "100m", "memory", "128Mi"), limits: list("cpu", "500m", "memory", "256Mi"),
			annotation: "LimitRanger plugin set: memory request for container web; cpu, memory limit for container web"},
		{name: "init containers too",
			pod: corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{container("init", nil, nil)},
				Containers: []corev1.Container{container("web", list("cpu", "1", "memory", "1Gi"), list("cpu", "1", "memory", "1Gi"))}}},
			ranges:   ranges(defaults),
			requests: list("cpu", "1", "memory", "1Gi"), limits: list("cpu", "1", "memory", "1Gi"),
			annotation: "LimitRanger plugin set: cpu, memory request for init container init; cpu, memory limit for init container init"},
		{name: "over the container max",
			pod:    corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", list("cpu", "1"), list("cpu", "2"))}}},
			ranges: ranges(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("cpu", "1")}),
			err:    "maximum cpu usage per Container is 1, but limit is 2"},
		{name: "no limit under a max",
			pod:    corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", list("memory", "1Gi"), nil)}}},
			ranges: ranges(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("memory", "2Gi")}),
			err:    "maximum memory usage per Container is 2Gi.  No limit is specified"},
		{name: "under the min",
			pod:    corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", list("memory", "100Mi"), list("memory", "1Gi"))}}},
			ranges: ranges(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: list("memory", "500Mi")}),
			err:    "minimum memory usage per Container is 500Mi, but request is 100Mi"},
		{name: "ratio",
			pod:    corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", list("cpu", "250m"), list("cpu", "1"))}}},
			ranges: ranges(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: list("cpu", "2")}),
			err:    "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000"},
		{name: "ratio within",
			pod:      corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", list("cpu", "500m"), list("cpu", "1"))}}},
			ranges:   ranges(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, MaxLimitRequestRatio: list("cpu", "2")}),
			requests: list("cpu", "500m"), limits: list("cpu", "1")},
		{name: "pod max counts every container",
			pod: corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
				container("a", list("cpu", "1"), list("cpu", "1")), container("b", list("cpu", "1"), list("cpu", "1"))}}},
			ranges: ranges(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: list("cpu", "1500m")}),
			err:    "maximum cpu usage per Pod is 1500m, but limit is 2"},
		{name: "several at once",
			pod:    corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("c", list("cpu", "2", "memory", "2Gi"), list("cpu", "2", "memory", "2Gi"))}}},
			ranges: ranges(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: list("cpu", "1", "memory", "1Gi")}),
			err:    "[maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per Container is 1Gi, but limit is 2Gi]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := tc.pod.DeepCopy()
			err := AdmitPod(pod, tc.ranges)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.requests != nil {
				c := pod.Spec.Containers[0]
				if !apiequality.Semantic.DeepEqual(c.Resources.Requests, tc.requests) || !apiequality.Semantic.DeepEqual(c.Resources.Limits, tc.limits) {
					t.Fatalf("requests %v limits %v, want %v %v", c.Resources.Requests, c.Resources.Limits, tc.requests, tc.limits)
				}
			}
			if got := pod.Annotations[Annotation]; got != tc.annotation {
				t.Fatalf("annotation %q, want %q", got, tc.annotation)
			}
		})
	}
}

func TestAdmitPersistentVolumeClaim(t *testing.T) {
	r := ranges(corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: list("storage", "1Gi"), Max: list("storage", "2Gi")})
	cases := []struct {
		request string
		err     string
	}{
		{"1Gi", ""},
		{"2Gi", ""},
		{"500Mi", "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"},
		{"5Gi", "maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"},
	}
	for _, tc := range cases {
		pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: list("storage", tc.request)}}}
		err := AdmitPersistentVolumeClaim(pvc, r)
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("request %s: error %v, want %q", tc.request, err, tc.err)
		}
	}
}
