package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func newPV() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/pv-1"}},
	}}
}

func TestPersistentVolume(t *testing.T) {
	s := strategyOf(t, "", "v1", "persistentvolumes")
	pv := newPV()
	if errs := create(s, pv); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem ||
		pv.Status.Phase != corev1.VolumePending || pv.Status.LastPhaseTransitionTime == nil {
		t.Errorf("defaults: %+v", pv)
	}
	if got := s.FieldSet(pv); !apiequality.Semantic.DeepEqual(got, fields.Set{"name": "pv-1"}) {
		t.Errorf("fields = %v", got)
	}

	tests := []struct {
		name   string
		mutate func(*corev1.PersistentVolume)
		want   []string
	}{
		{"no capacity", func(pv *corev1.PersistentVolume) { pv.Spec.Capacity = nil }, []string{"Required spec.capacity"}},
		{"no access modes", func(pv *corev1.PersistentVolume) { pv.Spec.AccessModes = nil }, []string{"Required spec.accessModes"}},
		{"no source", func(pv *corev1.PersistentVolume) { pv.Spec.HostPath = nil }, []string{"Required spec"}},
		{"local without affinity", func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath = nil
			pv.Spec.Local = &corev1.LocalVolumeSource{Path: "/mnt/disk"}
		}, []string{"Required metadata.annotations"}},
		{"bad reclaim policy", func(pv *corev1.PersistentVolume) { pv.Spec.PersistentVolumeReclaimPolicy = "Keep" },
			[]string{"NotSupported spec.persistentVolumeReclaimPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pv := newPV()
			tc.mutate(pv)
			checkErrors(t, create(s, pv), tc.want...)
		})
	}

	claimed := pv.DeepCopy()
	claimed.Spec.ClaimRef = &corev1.ObjectReference{Name: "data", Namespace: "default"}
	checkErrors(t, update(s, claimed, pv))
	moved := pv.DeepCopy()
	moved.Spec.HostPath.Path = "/elsewhere"
	checkErrors(t, update(s, moved, pv), "Forbidden spec.persistentvolumesource")
}
