package registry

import (
	"fmt"
	"maps"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// Unprefixed forms of the job labels, still set for compatibility with older clients.
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"

	maxParallelismForIndexedJob = 100000
	maxManagedByLength          = 63
	defaultBackoffLimit         = 6
)

var (
	supportedCompletionModes   = []batchv1.CompletionMode{batchv1.IndexedCompletion, batchv1.NonIndexedCompletion}
	supportedReplacementPolicy = []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
)

type jobStrategy struct{ baseStrategy }

func (jobStrategy) Default(obj runtime.Object) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	spec := &job.Spec
	// A job that sets neither runs one pod to completion.
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = new(int32(1))
	}
	if spec.Parallelism == nil {
		spec.Parallelism = new(int32(1))
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = new(int32(maxInt32))
		} else {
			spec.BackoffLimit = new(int32(defaultBackoffLimit))
		}
	}
	if len(spec.Template.Labels) > 0 && len(job.Labels) == 0 {
		job.Labels = maps.Clone(spec.Template.Labels)
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = new(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = new(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
		}
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = new(false)
	}
	if spec.PodFailurePolicy != nil {
		for i := range spec.PodFailurePolicy.Rules {
			for j := range spec.PodFailurePolicy.Rules[i].OnPodConditions {
				if c := &spec.PodFailurePolicy.Rules[i].OnPodConditions[j]; c.Status == "" {
					c.Status = corev1.ConditionTrue
				}
			}
		}
	}
	defaultJobPodTemplate(&spec.Template)
}

// defaultJobPodTemplate defaults a job's pod template, except its restart policy: a job's pods
// must say themselves whether they restart on failure (OnFailure) or not (Never).
func defaultJobPodTemplate(t *corev1.PodTemplateSpec) {
	restartPolicy := t.Spec.RestartPolicy
	defaultPodTemplateSpec(t)
	t.Spec.RestartPolicy = restartPolicy
}

// PrepareForCreate gives the job a selector of its own pods, unless the user manages the
// selector: the pods get labels naming the job and its UID, and the job selects its UID. The
// API server has set metadata.uid before this runs.
func (jobStrategy) PrepareForCreate(obj runtime.Object) {
	job, ok := obj.(*batchv1.Job)
	if !ok || (job.Spec.ManualSelector != nil && *job.Spec.ManualSelector) {
		return
	}
	t := &job.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	// Labels the user set are kept; a conflict with the generated selector fails validation.
	for _, key := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, found := t.Labels[key]; !found {
			t.Labels[key] = job.Name
		}
	}
	for _, key := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, found := t.Labels[key]; !found {
			t.Labels[key] = string(job.UID)
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, found := job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !found {
		job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(job.UID)
	}
}

func (jobStrategy) Validate(obj runtime.Object) field.ErrorList {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil
	}
	return validateJob(job, true)
}

// validateJob checks a job. requirePrefixedLabels says whether generated selectors must come
// with the batch.kubernetes.io/ labels (jobs created before those existed lack them).
func validateJob(job *batchv1.Job, requirePrefixedLabels bool) field.ErrorList {
	errs := validateGeneratedSelector(job, requirePrefixedLabels)
	errs = append(errs, validateJobSpec(&job.Spec, field.NewPath("spec"))...)
	if job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion && job.Spec.Completions != nil && *job.Spec.Completions > 0 {
		// Indexed pods are named <job>-<index>; the longest such name must be a valid hostname.
		longest := fmt.Sprintf("%s-%d", job.Name, *job.Spec.Completions-1)
		if len(validation.IsDNS1123Label(longest)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), job.Name, fmt.Sprintf("will not able to create pod with invalid DNS label: %s", longest)))
		}
	}
	return errs
}

// validateGeneratedSelector checks that a generated selector and the template labels still
// identify exactly this job.
func validateGeneratedSelector(job *batchv1.Job, requirePrefixedLabels bool) field.ErrorList {
	if (job.Spec.ManualSelector != nil && *job.Spec.ManualSelector) || job.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if job.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	metaPath := field.NewPath("spec", "template", "metadata")
	expected := map[string]string{legacyControllerUIDLabel: string(job.UID), legacyJobNameLabel: job.Name}
	if requirePrefixedLabels {
		expected[batchv1.ControllerUidLabel] = string(job.UID)
		expected[batchv1.JobNameLabel] = job.Name
	}
	for _, key := range []string{legacyControllerUIDLabel, legacyJobNameLabel, batchv1.ControllerUidLabel, batchv1.JobNameLabel} {
		want, ok := expected[key]
		if !ok {
			continue
		}
		got, found := job.Spec.Template.Labels[key]
		switch {
		case !found:
			errs = append(errs, field.Required(metaPath.Child("labels").Key(key), want))
		case got != want:
			errs = append(errs, field.Invalid(metaPath.Child("labels").Key(key), job.Spec.Template.Labels, fmt.Sprintf("must be '%s'", want)))
		}
	}
	if selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil && !selector.Matches(labels.Set(expected)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpec checks a job spec including its selector, which every stored job has.
func validateJobSpec(spec *batchv1.JobSpec, specPath *field.Path) field.ErrorList {
	errs := validateJobSpecBody(spec, specPath)
	if spec.Selector == nil {
		errs = append(errs, field.Required(specPath.Child("selector"), ""))
	} else {
		errs = append(errs, validateLabelSelector(spec.Selector, specPath.Child("selector"))...)
	}
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(specPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateJobSpecBody checks everything in a job spec but the selector; CronJob job templates
// share it (their selector is always generated later).
func validateJobSpecBody(spec *batchv1.JobSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value *int32
	}{{"parallelism", spec.Parallelism}, {"completions", spec.Completions}, {"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished}, {"backoffLimitPerIndex", spec.BackoffLimitPerIndex}, {"maxFailedIndexes", spec.MaxFailedIndexes}} {
		errs = append(errs, validateOptionalNonnegative(f.value, specPath.Child(f.name))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, validateNonnegative(*spec.ActiveDeadlineSeconds, specPath.Child("activeDeadlineSeconds"))...)
	}
	if spec.MaxFailedIndexes != nil && spec.BackoffLimitPerIndex == nil {
		errs = append(errs, field.Required(specPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
	}
	if spec.ManagedBy != nil {
		errs = append(errs, validation.IsDomainPrefixedPath(specPath.Child("managedBy"), *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(specPath.Child("managedBy"), *spec.ManagedBy, maxManagedByLength))
		}
	}
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	if spec.CompletionMode != nil {
		errs = append(errs, validateEnum(*spec.CompletionMode, supportedCompletionModes, specPath.Child("completionMode"))...)
	}
	if indexed {
		if spec.Completions == nil {
			errs = append(errs, field.Required(specPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
		if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
			errs = append(errs, field.Invalid(specPath.Child("parallelism"), *spec.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
		}
	} else {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(specPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(specPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
		if spec.SuccessPolicy != nil {
			errs = append(errs, field.Invalid(specPath.Child("successPolicy"), "", "requires indexed completion mode"))
		}
	}
	if spec.PodReplacementPolicy != nil {
		p := specPath.Child("podReplacementPolicy")
		if spec.PodFailurePolicy != nil {
			if *spec.PodReplacementPolicy != batchv1.Failed {
				errs = append(errs, field.NotSupported(p, *spec.PodReplacementPolicy, []batchv1.PodReplacementPolicy{batchv1.Failed}))
			}
		} else {
			errs = append(errs, validateEnum(*spec.PodReplacementPolicy, supportedReplacementPolicy, p)...)
		}
	}
	// Job pods run to completion: they may restart in place on failure, or be replaced, but
	// never restart after success. The job rule below reports a missing restart policy, so the
	// generic pod spec rule's report of it is dropped.
	restartPath := specPath.Child("template", "spec", "restartPolicy")
	templateErrs := validatePodTemplateSpec(&spec.Template, specPath.Child("template"), podSpecExtras{})
	errs = append(errs, withoutError(templateErrs, field.ErrorTypeRequired, restartPath)...)
	switch rp := spec.Template.Spec.RestartPolicy; {
	case rp == corev1.RestartPolicyAlways || rp == "":
		errs = append(errs, field.Required(restartPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(restartPath, rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(restartPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func (jobStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	job, ok := obj.(*batchv1.Job)
	oldJob, ok2 := old.(*batchv1.Job)
	if !ok || !ok2 {
		return nil
	}
	_, hadName := oldJob.Spec.Template.Labels[batchv1.JobNameLabel]
	_, hadUID := oldJob.Spec.Template.Labels[batchv1.ControllerUidLabel]
	errs := validateJob(job, hadName && hadUID)
	return append(errs, validateJobSpecUpdate(&job.Spec, &oldJob.Spec, oldJob.Status.StartTime == nil)...)
}

// validateJobSpecUpdate keeps a job's shape fixed once created. Only a job that is suspended and
// has never started may change where its pods are scheduled (node selector, affinity,
// tolerations, scheduling gates) and their labels and annotations.
func validateJobSpecUpdate(spec, oldSpec *batchv1.JobSpec, neverStarted bool) field.ErrorList {
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	indexed := spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
	switch {
	case apiequality.Semantic.DeepEqual(spec.Completions, oldSpec.Completions):
	case indexed && spec.Completions != nil && spec.Parallelism != nil && *spec.Completions == *spec.Parallelism:
		// Indexed jobs scale elastically when completions and parallelism move together.
	case indexed && spec.Completions != nil:
		errs = append(errs, field.Invalid(specPath.Child("completions"), spec.Completions, "can only be modified in tandem with spec.parallelism"))
	default:
		errs = append(errs, validateImmutable(spec.Completions, oldSpec.Completions, specPath.Child("completions"))...)
	}
	errs = append(errs, validateImmutable(spec.Selector, oldSpec.Selector, specPath.Child("selector"))...)
	oldTemplate := &oldSpec.Template
	if oldSpec.Suspend != nil && *oldSpec.Suspend && neverStarted {
		oldTemplate = oldSpec.Template.DeepCopy()
		oldTemplate.Spec.NodeSelector = spec.Template.Spec.NodeSelector
		oldTemplate.Spec.Tolerations = spec.Template.Spec.Tolerations
		oldTemplate.Spec.SchedulingGates = spec.Template.Spec.SchedulingGates
		oldTemplate.Labels = spec.Template.Labels
		oldTemplate.Annotations = spec.Template.Annotations
		switch {
		case spec.Template.Spec.Affinity == nil && oldTemplate.Spec.Affinity != nil:
			oldTemplate.Spec.Affinity.NodeAffinity = nil
			if *oldTemplate.Spec.Affinity == (corev1.Affinity{}) {
				oldTemplate.Spec.Affinity = nil
			}
		case spec.Template.Spec.Affinity != nil && oldTemplate.Spec.Affinity == nil:
			oldTemplate.Spec.Affinity = &corev1.Affinity{NodeAffinity: spec.Template.Spec.Affinity.NodeAffinity}
		case spec.Template.Spec.Affinity != nil:
			oldTemplate.Spec.Affinity.NodeAffinity = spec.Template.Spec.Affinity.NodeAffinity
		}
	}
	errs = append(errs, validateImmutable(spec.Template, *oldTemplate, specPath.Child("template"))...)
	errs = append(errs, validateImmutable(spec.CompletionMode, oldSpec.CompletionMode, specPath.Child("completionMode"))...)
	errs = append(errs, validateImmutable(spec.PodFailurePolicy, oldSpec.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	errs = append(errs, validateImmutable(spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	errs = append(errs, validateImmutable(spec.ManagedBy, oldSpec.ManagedBy, specPath.Child("managedBy"))...)
	errs = append(errs, validateImmutable(spec.SuccessPolicy, oldSpec.SuccessPolicy, specPath.Child("successPolicy"))...)
	return errs
}

// FieldSet returns the fields jobs can be selected by.
func (jobStrategy) FieldSet(obj runtime.Object) fields.Set {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil
	}
	return fields.Set{"status.successful": strconv.Itoa(int(job.Status.Succeeded))}
}
