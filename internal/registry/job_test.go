package registry

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func newJob() *batchv1.Job {
	tmpl := corev1.PodTemplateSpec{Spec: minimalPodSpec()}
	tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	return &batchv1.Job{ObjectMeta: meta("pi"), Spec: batchv1.JobSpec{Template: tmpl}}
}

func TestJobDefaultsAndGeneratedSelector(t *testing.T) {
	job := newJob()
	if errs := create(strategyOf(t, "batch", "v1", "jobs"), job); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	spec := job.Spec
	switch {
	case *spec.Completions != 1 || *spec.Parallelism != 1:
		t.Errorf("completions/parallelism = %d/%d", *spec.Completions, *spec.Parallelism)
	case *spec.BackoffLimit != 6:
		t.Errorf("backoffLimit = %d", *spec.BackoffLimit)
	case *spec.CompletionMode != batchv1.NonIndexedCompletion || *spec.Suspend || *spec.ManualSelector:
		t.Errorf("mode/suspend/manualSelector = %s/%v/%v", *spec.CompletionMode, *spec.Suspend, *spec.ManualSelector)
	case *spec.PodReplacementPolicy != batchv1.TerminatingOrFailed:
		t.Errorf("podReplacementPolicy = %s", *spec.PodReplacementPolicy)
	case spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever:
		t.Errorf("restartPolicy = %s", spec.Template.Spec.RestartPolicy)
	}
	uid := string(job.UID)
	wantLabels := map[string]string{
		"batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
		"batch.kubernetes.io/job-name": "pi", "job-name": "pi",
	}
	if !apiequality.Semantic.DeepEqual(spec.Template.Labels, wantLabels) {
		t.Errorf("template labels = %v, want %v", spec.Template.Labels, wantLabels)
	}
	if !apiequality.Semantic.DeepEqual(job.Labels, wantLabels) {
		t.Errorf("job labels = %v, want the template's %v", job.Labels, wantLabels)
	}
	if want := map[string]string{"batch.kubernetes.io/controller-uid": uid}; !apiequality.Semantic.DeepEqual(spec.Selector.MatchLabels, want) {
		t.Errorf("selector = %v, want %v", spec.Selector.MatchLabels, want)
	}
}

func TestJobValidation(t *testing.T) {
	s := strategyOf(t, "batch", "v1", "jobs")
	tests := []struct {
		name   string
		mutate func(*batchv1.Job)
		want   []string
	}{
		{"valid", func(*batchv1.Job) {}, nil},
		{"restart policy left out", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			[]string{"Required spec.template.spec.restartPolicy"}},
		{"restart always", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{"Required spec.template.spec.restartPolicy"}},
		{"negative counts", func(j *batchv1.Job) {
			j.Spec.Parallelism = new(int32(-1))
			j.Spec.BackoffLimit = new(int32(-1))
			j.Spec.ActiveDeadlineSeconds = new(int64(-1))
		}, []string{"Invalid spec.parallelism", "Invalid spec.backoffLimit", "Invalid spec.activeDeadlineSeconds"}},
		{"indexed without completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode = new(batchv1.IndexedCompletion)
			j.Spec.Parallelism = new(int32(2))
		}, []string{"Required spec.completions"}},
		{"conflicting generated label", func(j *batchv1.Job) {
			j.Spec.Template.Labels = map[string]string{"controller-uid": "someone-else"}
		}, []string{"Invalid spec.template.metadata.labels[controller-uid]"}},
		{"manual selector matching", func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}, nil},
		{"manual selector without selector", func(j *batchv1.Job) { j.Spec.ManualSelector = new(true) },
			[]string{"Required spec.selector", "Invalid spec.template.metadata.labels"}},
		{"manual selector not matching", func(j *batchv1.Job) {
			j.Spec.ManualSelector = new(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, []string{"Invalid spec.template.metadata.labels"}},
		{"replacement policy with failure policy", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{}
			j.Spec.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
		}, []string{"NotSupported spec.podReplacementPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := newJob()
			tc.mutate(job)
			checkErrors(t, create(s, job), tc.want...)
		})
	}
}

func TestJobUpdate(t *testing.T) {
	s := strategyOf(t, "batch", "v1", "jobs")
	created := func(suspend bool) *batchv1.Job {
		job := newJob()
		job.Spec.Suspend = new(suspend)
		if errs := create(s, job); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		return job
	}
	tests := []struct {
		name    string
		suspend bool
		mutate  func(*batchv1.Job)
		want    []string
	}{
		{"parallelism", false, func(j *batchv1.Job) { j.Spec.Parallelism = new(int32(3)) }, nil},
		{"suspend", false, func(j *batchv1.Job) { j.Spec.Suspend = new(true) }, nil},
		{"template", false, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" }, []string{"Invalid spec.template"}},
		{"selector", false, func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["x"] = "y" },
			// not auto-generated, does not match the template, and immutable
			[]string{"Invalid spec.selector", "Invalid spec.template.metadata.labels", "Invalid spec.selector"}},
		{"completions", false, func(j *batchv1.Job) { j.Spec.Completions = new(int32(5)) }, []string{"Invalid spec.completions"}},
		{"node selector of a suspended job", true, func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"} }, nil},
		{"image of a suspended job", true, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" }, []string{"Invalid spec.template"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := created(tc.suspend)
			job := old.DeepCopy()
			tc.mutate(job)
			checkErrors(t, update(s, job, old), tc.want...)
		})
	}
}

func TestJobFieldSet(t *testing.T) {
	job := newJob()
	job.Status.Succeeded = 4
	if got := strategyOf(t, "batch", "v1", "jobs").FieldSet(job); !apiequality.Semantic.DeepEqual(got, fields.Set{"status.successful": "4"}) {
		t.Errorf("fields = %v", got)
	}
}
