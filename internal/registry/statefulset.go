package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedPodManagement = []appsv1.PodManagementPolicyType{appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement}
	supportedPVCRetention  = []appsv1.PersistentVolumeClaimRetentionPolicyType{appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType}
)

type statefulSetStrategy struct{ baseStrategy }

func (statefulSetStrategy) Default(obj runtime.Object) {
	ss, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return
	}
	spec := &ss.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType && ru != nil && ru.Partition == nil {
		ru.Partition = new(int32(0))
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted == "" {
		spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.PersistentVolumeClaimRetentionPolicy.WhenScaled == "" {
		spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		spec.Replicas = new(int32(1))
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = new(int32(10))
	}
	defaultPodTemplateSpec(&spec.Template)
	for i := range spec.VolumeClaimTemplates {
		defaultPersistentVolumeClaim(&spec.VolumeClaimTemplates[i])
	}
}

func (statefulSetStrategy) Validate(obj runtime.Object) field.ErrorList {
	ss, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return nil
	}
	// Pod names and hostnames derive from the StatefulSet's name.
	errs := validateObjectName(ss.Name, apimachineryvalidation.NameIsDNSLabel)
	return append(errs, validateStatefulSetSpec(&ss.Spec, field.NewPath("spec"))...)
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(specPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(specPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	errs = append(errs, validateStatefulSetUpdateStrategy(&spec.UpdateStrategy, specPath.Child("updateStrategy"))...)
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		pp := specPath.Child("persistentVolumeClaimRetentionPolicy")
		errs = append(errs, validatePVCRetention(p.WhenDeleted, pp.Child("whenDeleted"))...)
		errs = append(errs, validatePVCRetention(p.WhenScaled, pp.Child("whenScaled"))...)
	}
	errs = append(errs, validateReplicas(spec.Replicas, specPath.Child("replicas"))...)
	errs = append(errs, validateNonnegative(int64(spec.MinReadySeconds), specPath.Child("minReadySeconds"))...)
	errs = append(errs, validateOptionalNonnegative(spec.RevisionHistoryLimit, specPath.Child("revisionHistoryLimit"))...)
	if spec.Ordinals != nil {
		errs = append(errs, validateNonnegative(int64(spec.Ordinals.Start), specPath.Child("ordinals", "start"))...)
	}
	if spec.ServiceName != "" {
		errs = append(errs, validateDNS1123Label(spec.ServiceName, specPath.Child("serviceName"))...)
	}
	errs = append(errs, validateSelectorMatchesTemplate(spec.Selector, spec.Template.Labels, "statefulset", specPath)...)

	// Each claim template becomes a volume of every pod, so its name is a volume name.
	claimNames := sets.New[string]()
	for i := range spec.VolumeClaimTemplates {
		t := &spec.VolumeClaimTemplates[i]
		p := specPath.Child("volumeClaimTemplates").Index(i)
		if t.Name == "" {
			errs = append(errs, field.Required(p.Child("metadata", "name"), ""))
		} else {
			errs = append(errs, validateDNS1123Label(t.Name, p.Child("metadata", "name"))...)
			if claimNames.Has(t.Name) {
				errs = append(errs, field.Duplicate(p.Child("metadata", "name"), t.Name))
			}
		}
		claimNames.Insert(t.Name)
		errs = append(errs, validateLabels(t.Labels, p.Child("metadata", "labels"))...)
		errs = append(errs, validatePersistentVolumeClaimSpec(&t.Spec, p.Child("spec"))...)
	}
	extras := podSpecExtras{volumes: sets.List(claimNames)}
	return append(errs, validateLongRunningPodTemplate(&spec.Template, "StatefulSet", specPath.Child("template"), extras)...)
}

func validatePVCRetention(v appsv1.PersistentVolumeClaimRetentionPolicyType, fldPath *field.Path) field.ErrorList {
	for _, s := range supportedPVCRetention {
		if v == s {
			return nil
		}
	}
	return field.ErrorList{field.NotSupported(fldPath, v, supportedPVCRetention)}
}

func validateStatefulSetUpdateStrategy(s *appsv1.StatefulSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch s.Type {
	case "":
		errs = append(errs, field.Required(fldPath, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if s.RollingUpdate != nil {
			errs = append(errs, field.Invalid(fldPath.Child("rollingUpdate"), s.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if ru := s.RollingUpdate; ru != nil {
			p := fldPath.Child("rollingUpdate")
			if ru.Partition != nil {
				errs = append(errs, validateNonnegative(int64(*ru.Partition), p.Child("partition"))...)
			}
			if ru.MaxUnavailable != nil {
				errs = append(errs, validateRollingUpdateBound(ru.MaxUnavailable, p.Child("maxUnavailable"))...)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(p.Child("maxUnavailable"), *ru.MaxUnavailable, "cannot be 0"))
				}
			}
		}
	default:
		errs = append(errs, field.Invalid(fldPath, s.Type,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	return errs
}

func (statefulSetStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	ss, ok := obj.(*appsv1.StatefulSet)
	oldSS, ok2 := old.(*appsv1.StatefulSet)
	if !ok || !ok2 {
		return nil
	}
	// The name is not re-checked: it cannot change, and older objects may predate the rule.
	errs := validateStatefulSetSpec(&ss.Spec, field.NewPath("spec"))
	// Everything but these fields is fixed once the set exists (its pods and claims depend on it).
	clone := ss.Spec.DeepCopy()
	clone.Replicas = oldSS.Spec.Replicas
	clone.Template = oldSS.Spec.Template
	clone.UpdateStrategy = oldSS.Spec.UpdateStrategy
	clone.MinReadySeconds = oldSS.Spec.MinReadySeconds
	clone.Ordinals = oldSS.Spec.Ordinals
	clone.RevisionHistoryLimit = oldSS.Spec.RevisionHistoryLimit
	clone.PersistentVolumeClaimRetentionPolicy = oldSS.Spec.PersistentVolumeClaimRetentionPolicy
	// Claim templates carry a status only for show; it must not block updates.
	for i := range clone.VolumeClaimTemplates {
		if i < len(oldSS.Spec.VolumeClaimTemplates) {
			clone.VolumeClaimTemplates[i].Status = oldSS.Spec.VolumeClaimTemplates[i].Status
		}
	}
	if !apiequality.Semantic.DeepEqual(*clone, oldSS.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
	}
	return errs
}
