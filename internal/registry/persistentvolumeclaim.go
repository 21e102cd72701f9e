package registry

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
	supportedVolumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

type persistentVolumeClaimStrategy struct{ baseStrategy }

func (persistentVolumeClaimStrategy) Default(obj runtime.Object) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return
	}
	defaultPersistentVolumeClaim(pvc)
}

// defaultPersistentVolumeClaim fills the defaults of a claim, standalone or as a template.
func defaultPersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) {
	defaultPersistentVolumeClaimSpec(&pvc.Spec)
	if pvc.Status.Phase == "" {
		pvc.Status.Phase = corev1.ClaimPending
	}
}

func defaultPersistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec) {
	if spec.VolumeMode == nil {
		spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
	}
	roundUpResourceList(spec.Resources.Requests)
	roundUpResourceList(spec.Resources.Limits)
}

func (persistentVolumeClaimStrategy) Validate(obj runtime.Object) field.ErrorList {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	return validatePersistentVolumeClaimSpec(&pvc.Spec, field.NewPath("spec"))
}

// validatePersistentVolumeClaimSpec checks a claim spec: at least one access mode and a positive
// storage request.
func validatePersistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(fldPath.Child("accessModes"), "at least 1 access mode is required"))
	}
	for _, m := range spec.AccessModes {
		errs = append(errs, validateEnum(m, supportedAccessModes, fldPath.Child("accessModes"))...)
		if m == corev1.ReadWriteOncePod && len(spec.AccessModes) > 1 {
			errs = append(errs, field.Forbidden(fldPath.Child("accessModes"), "may not use ReadWriteOncePod with other access modes"))
		}
	}
	if spec.Selector != nil {
		errs = append(errs, validateLabelSelector(spec.Selector, fldPath.Child("selector"))...)
	}
	storagePath := fldPath.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(storagePath, q.String(), isNotPositiveErrorMsg))
	}
	for name, q := range spec.Resources.Limits {
		errs = append(errs, validateResourceQuantity(name, q, fldPath.Child("resources", "limits").Key(string(name)))...)
	}
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		errs = append(errs, validateDNS1123Subdomain(*spec.StorageClassName, fldPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil {
		errs = append(errs, validateEnum(*spec.VolumeMode, supportedVolumeModes, fldPath.Child("volumeMode"))...)
	}
	if ds := spec.DataSource; ds != nil {
		if ds.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("dataSource", "name"), ""))
		}
		if ds.Kind == "" {
			errs = append(errs, field.Required(fldPath.Child("dataSource", "kind"), ""))
		}
	}
	return errs
}

func (persistentVolumeClaimStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	oldPVC, ok2 := old.(*corev1.PersistentVolumeClaim)
	if !ok || !ok2 {
		return nil
	}
	errs := validatePersistentVolumeClaimSpec(&pvc.Spec, field.NewPath("spec"))
	return append(errs, validatePersistentVolumeClaimUpdate(pvc, oldPVC)...)
}

// validatePersistentVolumeClaimUpdate keeps a claim's spec fixed except for what the binder and
// volume expansion change: the volume name and storage class once, the storage request of a
// bound claim (never below its capacity), and the volume attributes class.
func validatePersistentVolumeClaimUpdate(pvc, oldPVC *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	newSpec, oldSpec := pvc.Spec.DeepCopy(), oldPVC.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	if oldSpec.StorageClassName == nil {
		oldSpec.StorageClassName = newSpec.StorageClassName
	}
	oldSpec.VolumeAttributesClassName = newSpec.VolumeAttributesClassName
	bound := oldPVC.Status.Phase == corev1.ClaimBound
	newStorage, hasNew := newSpec.Resources.Requests[corev1.ResourceStorage]
	if bound && hasNew && oldSpec.Resources.Requests != nil {
		oldSpec.Resources.Requests[corev1.ResourceStorage] = newStorage
	}
	if !apiequality.Semantic.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			fmt.Sprintf("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n%s", diff.Diff(oldSpec, newSpec))))
	}
	// A shrinking request may only undo a failed expansion, never go below what the volume has.
	oldStorage := oldPVC.Spec.Resources.Requests[corev1.ResourceStorage]
	if bound && hasNew && newStorage.Cmp(oldStorage) < 0 {
		storagePath := field.NewPath("spec", "resources", "requests", "storage")
		if capacity, ok := oldPVC.Status.Capacity[corev1.ResourceStorage]; !ok {
			errs = append(errs, field.Forbidden(storagePath, "field can not be less than previous value"))
		} else if newStorage.Cmp(capacity) <= 0 {
			errs = append(errs, field.Forbidden(storagePath, "field can not be less than status.capacity"))
		}
	}
	return errs
}

// FieldSet keeps upstream's "name" field, kept there for backward compatibility.
func (persistentVolumeClaimStrategy) FieldSet(obj runtime.Object) fields.Set {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	return fields.Set{"name": pvc.Name}
}
