package registry

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newCronJob() *batchv1.CronJob {
	job := newJob()
	return &batchv1.CronJob{ObjectMeta: meta("nightly"), Spec: batchv1.CronJobSpec{
		Schedule:    "0 3 * * *",
		JobTemplate: batchv1.JobTemplateSpec{Spec: job.Spec},
	}}
}

func TestCronJobDefaults(t *testing.T) {
	cj := newCronJob()
	if errs := create(strategyOf(t, "batch", "v1", "cronjobs"), cj); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	spec := cj.Spec
	if spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *spec.Suspend || *spec.SuccessfulJobsHistoryLimit != 3 || *spec.FailedJobsHistoryLimit != 1 {
		t.Errorf("defaults = %+v", spec)
	}
	pod := spec.JobTemplate.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || pod.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("job template pod spec = %+v", pod)
	}
}

func TestCronJobValidation(t *testing.T) {
	s := strategyOf(t, "batch", "v1", "cronjobs")
	tests := []struct {
		name   string
		mutate func(*batchv1.CronJob)
		want   []string
	}{
		{"valid", func(*batchv1.CronJob) {}, nil},
		{"descriptor", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "@hourly" }, nil},
		{"time zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("UTC") }, nil},
		{"no schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "" }, []string{"Required spec.schedule"}},
		{"bad schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "61 * * * *" }, []string{"Invalid spec.schedule"}},
		{"zone in schedule", func(cj *batchv1.CronJob) { cj.Spec.Schedule = "TZ=UTC 0 3 * * *" }, []string{"Invalid spec.schedule"}},
		{"unknown zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Mars/Olympus") }, []string{"Invalid spec.timeZone"}},
		{"local zone", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = new("Local") }, []string{"Invalid spec.timeZone"}},
		{"bad concurrency", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = "Sometimes" }, []string{"NotSupported spec.concurrencyPolicy"}},
		{"negative history", func(cj *batchv1.CronJob) { cj.Spec.FailedJobsHistoryLimit = new(int32(-1)) }, []string{"Invalid spec.failedJobsHistoryLimit"}},
		{"restart policy", func(cj *batchv1.CronJob) { cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "" },
			[]string{"Required spec.jobTemplate.spec.template.spec.restartPolicy"}},
		{"selector", func(cj *batchv1.CronJob) {
			cj.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, []string{"Invalid spec.jobTemplate.spec.selector"}},
		{"long name", func(cj *batchv1.CronJob) { cj.Name = strings.Repeat("a", 53) }, []string{"Invalid metadata.name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob()
			tc.mutate(cj)
			checkErrors(t, create(s, cj), tc.want...)
		})
	}

	old := newCronJob()
	old.Name = strings.Repeat("a", 60)
	s.Default(old)
	renamed := old.DeepCopy()
	renamed.Spec.Schedule = "*/10 * * * *"
	checkErrors(t, update(s, renamed, old))
}
