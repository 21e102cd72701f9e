package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func jobPrinter() Printer {
	return Printer{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "Status of the job."),
			column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
			column("Duration", "string", "Time required to complete the job."),
			ageColumn(),
		}, templateColumns(batchv1.JobSpec{}.SwaggerDoc()["selector"])...),
		Row: rowOf(func(job *batchv1.Job, now time.Time) ([]interface{}, error) {
			names, images := containerCells(job.Spec.Template.Spec.Containers)
			return []interface{}{
				job.Name, jobStatus(job), jobCompletions(job), jobDuration(job, now), AgeSince(job.CreationTimestamp.Time, now),
				names, images, selectorString(job.Spec.Selector),
			}, nil
		}),
	}
}

// jobCompletions reads "succeeded/completions"; a job without completions
// (a work queue) reads "n/1", with " of <parallelism>" when it runs in parallel.
func jobCompletions(job *batchv1.Job) string {
	if job.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	}
	if p := derefInt32(job.Spec.Parallelism, 1); p > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

// jobDuration is the run time so far, or the total once completed; empty
// before the job starts.
func jobDuration(job *batchv1.Job, now time.Time) string {
	switch {
	case job.Status.StartTime == nil:
		return ""
	case job.Status.CompletionTime == nil:
		return Age(now.Sub(job.Status.StartTime.Time))
	default:
		return Age(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}
}

// jobStatus picks the most telling condition in upstream's order of precedence.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return "Complete"
	case jobCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobCondition(job, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	default:
		return "Running"
	}
}

// jobCondition reports whether the first condition of type t is true.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func cronJobPrinter() Printer {
	spec := batchv1.CronJobSpec{}.SwaggerDoc()
	status := batchv1.CronJobStatus{}.SwaggerDoc()
	return Printer{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn(),
			column("Schedule", "string", spec["schedule"]),
			column("Timezone", "string", spec["timeZone"]),
			column("Suspend", "boolean", spec["suspend"]),
			column("Active", "integer", status["active"]),
			column("Last Schedule", "string", status["lastScheduleTime"]),
			ageColumn(),
		}, templateColumns(batchv1.JobSpec{}.SwaggerDoc()["selector"])...),
		Row: rowOf(func(cj *batchv1.CronJob, now time.Time) ([]interface{}, error) {
			last := none
			if t := cj.Status.LastScheduleTime; t != nil {
				last = AgeSince(t.Time, now)
			}
			tmpl := cj.Spec.JobTemplate.Spec
			names, images := containerCells(tmpl.Template.Spec.Containers)
			return []interface{}{
				cj.Name, cj.Spec.Schedule, stringPtrOr(cj.Spec.TimeZone, none), boolPtrString(cj.Spec.Suspend),
				int64(len(cj.Status.Active)), last, AgeSince(cj.CreationTimestamp.Time, now),
				names, images, selectorString(tmpl.Selector),
			}, nil
		}),
	}
}
