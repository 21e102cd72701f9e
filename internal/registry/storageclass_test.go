package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestStorageClass(t *testing.T) {
	s := strategyOf(t, "storage.k8s.io", "v1", "storageclasses")
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: "skiff.sh/local-path"}
	checkErrors(t, create(s, sc))
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults = %v/%v", *sc.ReclaimPolicy, *sc.VolumeBindingMode)
	}
	checkErrors(t, create(s, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}, ReclaimPolicy: new(corev1.PersistentVolumeReclaimRecycle),
		VolumeBindingMode: new(storagev1.VolumeBindingMode("Later"))}),
		"Required provisioner", "NotSupported reclaimPolicy", "NotSupported volumeBindingMode")

	changed := sc.DeepCopy()
	changed.Provisioner = "example.com/other"
	changed.Parameters = map[string]string{"path": "/x"}
	changed.VolumeBindingMode = new(storagev1.VolumeBindingWaitForFirstConsumer)
	checkErrors(t, update(s, changed, sc), "Forbidden provisioner", "Forbidden parameters", "Invalid volumeBindingMode")
	annotated := sc.DeepCopy()
	annotated.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	annotated.AllowVolumeExpansion = new(true)
	checkErrors(t, update(s, annotated, sc))
}
