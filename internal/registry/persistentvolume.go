package registry

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var supportedReclaimPolicies = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete,
	corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}

type persistentVolumeStrategy struct{ baseStrategy }

func (persistentVolumeStrategy) Default(obj runtime.Object) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return
	}
	if pv.Status.Phase == "" {
		pv.Status.Phase = corev1.VolumePending
	}
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		pv.Spec.VolumeMode = new(corev1.PersistentVolumeFilesystem)
	}
	if pv.Spec.HostPath != nil && pv.Spec.HostPath.Type == nil {
		pv.Spec.HostPath.Type = new(corev1.HostPathUnset)
	}
	roundUpResourceList(pv.Spec.Capacity)
}

// PrepareForCreate starts the volume Pending, noting when it entered that phase.
func (persistentVolumeStrategy) PrepareForCreate(obj runtime.Object) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return
	}
	now := metav1.Now()
	pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
}

func (persistentVolumeStrategy) Validate(obj runtime.Object) field.ErrorList {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return nil
	}
	return validatePersistentVolume(pv)
}

func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	specPath := field.NewPath("spec")
	spec := &pv.Spec
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(specPath.Child("accessModes"), ""))
	}
	for _, m := range spec.AccessModes {
		errs = append(errs, validateEnum(m, supportedAccessModes, specPath.Child("accessModes"))...)
	}
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(specPath.Child("capacity"), ""))
	}
	for name, q := range spec.Capacity {
		p := specPath.Child("capacity").Key(string(name))
		if name != corev1.ResourceStorage {
			errs = append(errs, field.NotSupported(p, name, []corev1.ResourceName{corev1.ResourceStorage}))
			continue
		}
		if q.Sign() <= 0 {
			errs = append(errs, field.Invalid(p, q.String(), isNotPositiveErrorMsg))
		}
	}
	errs = append(errs, validateOptionalEnum(spec.PersistentVolumeReclaimPolicy, supportedReclaimPolicies, specPath.Child("persistentVolumeReclaimPolicy"))...)
	if spec.StorageClassName != "" {
		errs = append(errs, validateDNS1123Subdomain(spec.StorageClassName, specPath.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil {
		errs = append(errs, validateEnum(*spec.VolumeMode, supportedVolumeModes, specPath.Child("volumeMode"))...)
	}
	if spec.NodeAffinity != nil {
		if spec.NodeAffinity.Required == nil {
			errs = append(errs, field.Required(specPath.Child("nodeAffinity", "required"), "must specify required node constraints"))
		} else {
			errs = append(errs, validateNodeSelector(spec.NodeAffinity.Required, specPath.Child("nodeAffinity", "required"))...)
		}
	}

	set := setPointerFields(reflect.ValueOf(&spec.PersistentVolumeSource).Elem())
	if len(set) == 0 {
		return append(errs, field.Required(specPath, "must specify a volume type"))
	}
	for _, extra := range set[1:] {
		errs = append(errs, field.Forbidden(specPath.Child(extra), "may not specify more than 1 volume type"))
	}
	switch {
	case spec.HostPath != nil:
		p := specPath.Child("hostPath")
		if spec.HostPath.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		} else {
			errs = append(errs, validatePathNoBacksteps(spec.HostPath.Path, p.Child("path"))...)
		}
		if spec.HostPath.Type != nil {
			errs = append(errs, validateOptionalEnum(*spec.HostPath.Type, supportedHostPathTypes, p.Child("type"))...)
		}
	case spec.Local != nil:
		if spec.Local.Path == "" {
			errs = append(errs, field.Required(specPath.Child("local", "path"), ""))
		} else {
			errs = append(errs, validatePathNoBacksteps(spec.Local.Path, specPath.Child("local", "path"))...)
		}
		// A local volume lives on one node; without affinity pods could land anywhere.
		if spec.NodeAffinity == nil {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations"), "Local volume requires node affinity"))
		}
	case spec.NFS != nil:
		if spec.NFS.Server == "" {
			errs = append(errs, field.Required(specPath.Child("nfs", "server"), ""))
		}
		if spec.NFS.Path == "" {
			errs = append(errs, field.Required(specPath.Child("nfs", "path"), ""))
		}
	case spec.CSI != nil:
		if spec.CSI.Driver == "" {
			errs = append(errs, field.Required(specPath.Child("csi", "driver"), ""))
		}
		if spec.CSI.VolumeHandle == "" {
			errs = append(errs, field.Required(specPath.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

func (persistentVolumeStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	pv, ok := obj.(*corev1.PersistentVolume)
	oldPV, ok2 := old.(*corev1.PersistentVolume)
	if !ok || !ok2 {
		return nil
	}
	errs := validatePersistentVolume(pv)
	specPath := field.NewPath("spec")
	if !reflect.DeepEqual(pv.Spec.PersistentVolumeSource, oldPV.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(specPath.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	errs = append(errs, validateImmutable(pv.Spec.VolumeMode, oldPV.Spec.VolumeMode, specPath.Child("volumeMode"))...)
	if oldPV.Spec.NodeAffinity != nil {
		errs = append(errs, validateImmutable(pv.Spec.NodeAffinity, oldPV.Spec.NodeAffinity, specPath.Child("nodeAffinity"))...)
	}
	return errs
}

// FieldSet keeps upstream's "name" field, kept there for backward compatibility.
func (persistentVolumeStrategy) FieldSet(obj runtime.Object) fields.Set {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return nil
	}
	return fields.Set{"name": pv.Name}
}
