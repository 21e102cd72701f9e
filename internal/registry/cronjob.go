package registry

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxCronJobNameLength leaves room for the 11-character suffix ("-<timestamp>") of the jobs a
// CronJob creates, whose names must stay DNS labels (63 characters).
const maxCronJobNameLength = 52

var (
	supportedConcurrency = []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}
	// timeZonePart matches one component of an IANA zone name such as America/New_York.
	timeZonePart = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)
)

type cronJobStrategy struct{ baseStrategy }

func (cronJobStrategy) Default(obj runtime.Object) {
	cj, ok := obj.(*batchv1.CronJob)
	if !ok {
		return
	}
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = new(int32(3))
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = new(int32(1))
	}
	defaultJobPodTemplate(&spec.JobTemplate.Spec.Template)
}

func (cronJobStrategy) Validate(obj runtime.Object) field.ErrorList {
	cj, ok := obj.(*batchv1.CronJob)
	if !ok {
		return nil
	}
	errs := validateCronJobSpec(&cj.Spec, nil, field.NewPath("spec"))
	if len(cj.Name) > maxCronJobNameLength {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	return errs
}

// ValidateUpdate skips the name length rule so that older CronJobs with long names can still be
// updated and deleted.
func (cronJobStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	cj, ok := obj.(*batchv1.CronJob)
	oldCJ, ok2 := old.(*batchv1.CronJob)
	if !ok || !ok2 {
		return nil
	}
	return validateCronJobSpec(&cj.Spec, &oldCJ.Spec, field.NewPath("spec"))
}

func validateCronJobSpec(spec, oldSpec *batchv1.CronJobSpec, specPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	schedulePath := specPath.Child("schedule")
	if spec.Schedule == "" {
		errs = append(errs, field.Required(schedulePath, ""))
	} else {
		if _, err := parseCronSchedule(spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(schedulePath, spec.Schedule, err.Error()))
		}
		// Zones belong in spec.timeZone; schedules that already had one may keep it.
		tzAllowed := oldSpec != nil && strings.Contains(oldSpec.Schedule, "TZ")
		switch {
		case tzAllowed && strings.Contains(spec.Schedule, "TZ") && spec.TimeZone != nil:
			errs = append(errs, field.Invalid(schedulePath, spec.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !tzAllowed && strings.Contains(spec.Schedule, "TZ"):
			errs = append(errs, field.Invalid(schedulePath, spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if spec.StartingDeadlineSeconds != nil {
		errs = append(errs, validateNonnegative(*spec.StartingDeadlineSeconds, specPath.Child("startingDeadlineSeconds"))...)
	}
	if oldSpec == nil || !equalPtr(spec.TimeZone, oldSpec.TimeZone) {
		errs = append(errs, validateTimeZone(spec.TimeZone, specPath.Child("timeZone"))...)
	}
	errs = append(errs, validateEnum(spec.ConcurrencyPolicy, supportedConcurrency, specPath.Child("concurrencyPolicy"))...)
	errs = append(errs, validateOptionalNonnegative(spec.SuccessfulJobsHistoryLimit, specPath.Child("successfulJobsHistoryLimit"))...)
	errs = append(errs, validateOptionalNonnegative(spec.FailedJobsHistoryLimit, specPath.Child("failedJobsHistoryLimit"))...)

	jobPath := specPath.Child("jobTemplate", "spec")
	job := &spec.JobTemplate.Spec
	errs = append(errs, validateJobSpecBody(job, jobPath)...)
	// Each job gets a generated selector when the CronJob creates it.
	if job.Selector != nil {
		errs = append(errs, field.Invalid(jobPath.Child("selector"), job.Selector, "`selector` will be auto-generated"))
	}
	if job.ManualSelector != nil && *job.ManualSelector {
		errs = append(errs, field.NotSupported(jobPath.Child("manualSelector"), *job.ManualSelector, []string{"nil", "false"}))
	}
	return errs
}

// validateTimeZone checks an IANA time zone name, which must be explicit (not "Local") and
// known to this machine's zone database.
func validateTimeZone(tz *string, fldPath *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(fldPath, *tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !timeZonePart.MatchString(part) {
			return field.ErrorList{field.Invalid(fldPath, *tz, fmt.Sprintf("unknown time zone %s", *tz))}
		}
	}
	var errs field.ErrorList
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(fldPath, *tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(fldPath, *tz, err.Error()))
	}
	return errs
}
