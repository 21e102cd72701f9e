package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/fields"
)

func newPVC() *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: meta("data"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
}

func TestPersistentVolumeClaim(t *testing.T) {
	s := strategyOf(t, "", "v1", "persistentvolumeclaims")
	pvc := newPVC()
	if errs := create(s, pvc); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem || pvc.Status.Phase != corev1.ClaimPending {
		t.Errorf("defaults: %+v", pvc)
	}
	if got := s.FieldSet(pvc); !apiequality.Semantic.DeepEqual(got, fields.Set{"name": "data"}) {
		t.Errorf("fields = %v", got)
	}

	tests := []struct {
		name   string
		mutate func(*corev1.PersistentVolumeClaim)
		want   []string
	}{
		{"no access modes", func(p *corev1.PersistentVolumeClaim) { p.Spec.AccessModes = nil }, []string{"Required spec.accessModes"}},
		{"bad access mode", func(p *corev1.PersistentVolumeClaim) {
			p.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadSometimes"}
		},
			[]string{"NotSupported spec.accessModes"}},
		{"no storage", func(p *corev1.PersistentVolumeClaim) { p.Spec.Resources.Requests = nil }, []string{"Required spec.resources[storage]"}},
		{"zero storage", func(p *corev1.PersistentVolumeClaim) {
			p.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("0")
		}, []string{"Invalid spec.resources[storage]"}},
		{"bad class", func(p *corev1.PersistentVolumeClaim) { p.Spec.StorageClassName = new("Fast_SSD") }, []string{"Invalid spec.storageClassName"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPVC()
			tc.mutate(p)
			checkErrors(t, create(s, p), tc.want...)
		})
	}
}

func TestPersistentVolumeClaimUpdate(t *testing.T) {
	s := strategyOf(t, "", "v1", "persistentvolumeclaims")
	old := newPVC()
	create(s, old)

	bound := old.DeepCopy()
	bound.Spec.VolumeName = "pv-1"
	bound.Spec.StorageClassName = new("local-path")
	checkErrors(t, update(s, bound, old))

	bigger := old.DeepCopy()
	bigger.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	checkErrors(t, update(s, bigger, old), "Forbidden spec")

	boundOld := bound.DeepCopy()
	boundOld.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	expanded := boundOld.DeepCopy()
	expanded.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	checkErrors(t, update(s, expanded, boundOld))
	shrunk := boundOld.DeepCopy()
	shrunk.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("512Mi")
	checkErrors(t, update(s, shrunk, boundOld), "Forbidden spec.resources.requests.storage")

	// A volume bigger than asked for must not block later updates of the claim.
	roomy := boundOld.DeepCopy()
	roomy.Status.Capacity[corev1.ResourceStorage] = resource.MustParse("5Gi")
	relabeled := roomy.DeepCopy()
	relabeled.Labels = map[string]string{"a": "b"}
	checkErrors(t, update(s, relabeled, roomy))

	rebound := boundOld.DeepCopy()
	rebound.Spec.VolumeName = "pv-2"
	checkErrors(t, update(s, rebound, boundOld), "Forbidden spec")
}
