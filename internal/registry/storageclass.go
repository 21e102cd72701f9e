package registry

import (
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	// Recycle is not offered for dynamically provisioned volumes.
	supportedClassReclaimPolicies = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
	supportedBindingModes         = []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}
)

const maxProvisionerParameterSize = 256 * 1024

type storageClassStrategy struct{ baseStrategy }

func (storageClassStrategy) Default(obj runtime.Object) {
	sc, ok := obj.(*storagev1.StorageClass)
	if !ok {
		return
	}
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = new(corev1.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = new(storagev1.VolumeBindingImmediate)
	}
}

func (storageClassStrategy) Validate(obj runtime.Object) field.ErrorList {
	sc, ok := obj.(*storagev1.StorageClass)
	if !ok {
		return nil
	}
	return validateStorageClass(sc)
}

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(field.NewPath("provisioner"), ""))
	} else {
		errs = append(errs, validateQualifiedName(strings.ToLower(sc.Provisioner), field.NewPath("provisioner"))...)
	}
	size := 0
	for k, v := range sc.Parameters {
		if k == "" {
			errs = append(errs, field.Invalid(field.NewPath("parameters"), sc.Parameters, "key must be non-empty"))
		}
		size += len(k) + len(v)
	}
	if size > maxProvisionerParameterSize {
		errs = append(errs, field.TooLong(field.NewPath("parameters"), "", maxProvisionerParameterSize))
	}
	if sc.ReclaimPolicy != nil {
		errs = append(errs, validateEnum(*sc.ReclaimPolicy, supportedClassReclaimPolicies, field.NewPath("reclaimPolicy"))...)
	}
	if sc.VolumeBindingMode == nil {
		errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else {
		errs = append(errs, validateEnum(*sc.VolumeBindingMode, supportedBindingModes, field.NewPath("volumeBindingMode"))...)
	}
	return errs
}

// ValidateUpdate fixes what volumes already provisioned by the class depend on.
func (storageClassStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	sc, ok := obj.(*storagev1.StorageClass)
	oldSC, ok2 := old.(*storagev1.StorageClass)
	if !ok || !ok2 {
		return nil
	}
	errs := validateStorageClass(sc)
	if !maps.Equal(sc.Parameters, oldSC.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != oldSC.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if !equalPtr(sc.ReclaimPolicy, oldSC.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	return append(errs, validateImmutable(sc.VolumeBindingMode, oldSC.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
}
