package cronjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// t0 is 12:00:00 UTC; the CronJob is created then.
var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t        *testing.T
	c        *Controller
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	uid      int
}

func newCronJob(mut ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.CronJobSpec{
			Schedule:          "*/1 * * * *",
			TimeZone:          ptr.To("UTC"),
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}, Annotations: map[string]string{"note": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}},
			},
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
		},
	}
	for _, m := range mut {
		m(cj)
	}
	return cj
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	f := &fixture{t: t, client: client, clock: testingclock.NewFakeClock(t0)}
	client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		f.uid++
		j.UID = types.UID(fmt.Sprintf("job-uid-%d", f.uid))
		return false, nil, nil
	})
	f.factory = informers.NewSharedInformerFactory(client, 0)
	f.c = New(client, f.factory, Options{Clock: f.clock})
	f.recorder = record.NewFakeRecorder(100)
	f.c.recorder = f.recorder
	f.refresh()
	return f
}

func (f *fixture) refresh() {
	ctx := context.Background()
	cjIdx := f.factory.Batch().V1().CronJobs().Informer().GetIndexer()
	jobIdx := f.factory.Batch().V1().Jobs().Informer().GetIndexer()
	for _, o := range cjIdx.List() {
		_ = cjIdx.Delete(o)
	}
	for _, o := range jobIdx.List() {
		_ = jobIdx.Delete(o)
	}
	cjs, _ := f.client.BatchV1().CronJobs("").List(ctx, metav1.ListOptions{})
	for i := range cjs.Items {
		_ = cjIdx.Add(&cjs.Items[i])
	}
	jobs, _ := f.client.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	for i := range jobs.Items {
		_ = jobIdx.Add(&jobs.Items[i])
	}
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(context.Background(), "ns/tick"); err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	f.refresh()
}

func (f *fixture) jobs() []batchv1.Job {
	list, _ := f.client.BatchV1().Jobs("ns").List(context.Background(), metav1.ListOptions{})
	slices.SortFunc(list.Items, func(a, b batchv1.Job) int { return strings.Compare(a.Name, b.Name) })
	return list.Items
}

func (f *fixture) cronJob() *batchv1.CronJob {
	cj, _ := f.client.BatchV1().CronJobs("ns").Get(context.Background(), "tick", metav1.GetOptions{})
	return cj
}

func (f *fixture) events() []string {
	var out []string
	for {
		select {
		case e := <-f.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (f *fixture) finish(name string, cond batchv1.JobConditionType, at time.Time) {
	j, _ := f.client.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
	j.Status.StartTime = &metav1.Time{Time: at.Add(-time.Second)}
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: cond, Status: corev1.ConditionTrue})
	if cond == batchv1.JobComplete {
		j.Status.CompletionTime = &metav1.Time{Time: at}
	}
	_, _ = f.client.BatchV1().Jobs("ns").UpdateStatus(context.Background(), j, metav1.UpdateOptions{})
	f.refresh()
}

func TestEveryMinuteCreatesJobWithinItsMinute(t *testing.T) {
	f := newFixture(t, newCronJob())
	f.clock.Step(30 * time.Second)
	f.sync()
	if n := len(f.jobs()); n != 0 {
		t.Fatalf("%d jobs before the first schedule time", n)
	}
	// The controller asked to be woken just after 12:01.
	if d := nextDelay(mustParse(t, "*/1 * * * *"), f.clock.Now()); d != 30*time.Second+nextScheduleDelta {
		t.Fatalf("next delay %v", d)
	}
	f.clock.Step(30*time.Second + nextScheduleDelta)
	f.sync()
	jobs := f.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs at 12:01, want 1", len(jobs))
	}
	j := jobs[0]
	scheduled := t0.Add(time.Minute)
	if want := fmt.Sprintf("tick-%d", scheduled.Unix()/60); j.Name != want {
		t.Errorf("job name %s, want %s", j.Name, want)
	}
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2025-03-10T12:01:00Z" {
		t.Errorf("scheduled-timestamp annotation %q", got)
	}
	if j.Annotations["note"] != "x" || j.Labels["app"] != "tick" {
		t.Errorf("template metadata not copied: %v %v", j.Labels, j.Annotations)
	}
	if ref := metav1.GetControllerOf(&j); ref == nil || ref.UID != "cj-uid" || ref.Kind != "CronJob" {
		t.Errorf("owner %+v", j.OwnerReferences)
	}
	cj := f.cronJob()
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != j.Name || !cj.Status.LastScheduleTime.Time.Equal(scheduled) {
		t.Fatalf("status %+v", cj.Status)
	}
	// A second sync within the same minute creates nothing.
	f.sync()
	if n := len(f.jobs()); n != 1 {
		t.Fatalf("%d jobs after resync", n)
	}
}

func mustParse(t *testing.T, spec string) *Schedule {
	s, err := ParseSchedule(spec, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConcurrencyPolicies(t *testing.T) {
	tests := []struct {
		policy    batchv1.ConcurrencyPolicy
		wantJobs  int
		wantEvent string
	}{
		{batchv1.AllowConcurrent, 2, "SuccessfulCreate"},
		{batchv1.ForbidConcurrent, 1, "JobAlreadyActive"},
		{batchv1.ReplaceConcurrent, 1, "SuccessfulDelete"},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			f := newFixture(t, newCronJob(func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = tc.policy }))
			f.clock.Step(time.Minute)
			f.sync()
			first := f.jobs()[0].Name
			f.events()
			f.clock.Step(time.Minute)
			f.sync()
			jobs := f.jobs()
			if len(jobs) != tc.wantJobs {
				t.Fatalf("%d jobs, want %d", len(jobs), tc.wantJobs)
			}
			if tc.policy == batchv1.ReplaceConcurrent && jobs[0].Name == first {
				t.Fatal("old job not replaced")
			}
			if ev := strings.Join(f.events(), "\n"); !strings.Contains(ev, tc.wantEvent) {
				t.Fatalf("events %q lack %s", ev, tc.wantEvent)
			}
		})
	}
}

func TestForbidStartsMissedRunWhenPreviousFinishes(t *testing.T) {
	f := newFixture(t, newCronJob(func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }))
	f.clock.Step(time.Minute)
	f.sync()
	first := f.jobs()[0].Name
	f.clock.Step(time.Minute + 10*time.Second) // 12:02:10, 12:02 blocked
	f.sync()
	f.finish(first, batchv1.JobComplete, f.clock.Now())
	f.sync()
	if n := len(f.jobs()); n != 2 {
		t.Fatalf("%d jobs after the blocking job finished, want 2", n)
	}
	cj := f.cronJob()
	if cj.Status.LastSuccessfulTime == nil || !cj.Status.LastSuccessfulTime.Time.Equal(f.clock.Now()) {
		t.Errorf("lastSuccessfulTime %v", cj.Status.LastSuccessfulTime)
	}
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name == first {
		t.Errorf("active %+v", cj.Status.Active)
	}
}

func TestStartingDeadlineAndSuspend(t *testing.T) {
	t.Run("missed deadline", func(t *testing.T) {
		f := newFixture(t, newCronJob(func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10) }))
		f.clock.Step(time.Minute + 30*time.Second) // 12:01 was due 30 s ago
		f.sync()
		if n := len(f.jobs()); n != 0 {
			t.Fatalf("%d jobs created past the starting deadline", n)
		}
	})
	t.Run("within deadline", func(t *testing.T) {
		f := newFixture(t, newCronJob(func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60) }))
		f.clock.Step(time.Minute + 30*time.Second)
		f.sync()
		if n := len(f.jobs()); n != 1 {
			t.Fatalf("%d jobs, want 1", n)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		f := newFixture(t, newCronJob(func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }))
		f.clock.Step(5 * time.Minute)
		f.sync()
		if n := len(f.jobs()); n != 0 {
			t.Fatalf("suspended cronjob created %d jobs", n)
		}
	})
	t.Run("missed many, runs only the latest", func(t *testing.T) {
		f := newFixture(t, newCronJob())
		f.clock.Step(3*time.Hour + 20*time.Second)
		f.sync()
		jobs := f.jobs()
		if len(jobs) != 1 || jobs[0].Name != fmt.Sprintf("tick-%d", t0.Add(3*time.Hour).Unix()/60) {
			t.Fatalf("jobs %v", jobs)
		}
	})
}

func TestHistoryLimits(t *testing.T) {
	f := newFixture(t, newCronJob())
	var names []string
	for i := range 5 {
		f.clock.Step(time.Minute)
		f.sync()
		jobs := f.jobs()
		names = append(names, jobs[len(jobs)-1].Name)
		cond := batchv1.JobComplete
		if i >= 3 {
			cond = batchv1.JobFailed
		}
		f.finish(names[i], cond, f.clock.Now().Add(10*time.Second))
	}
	f.sync()
	var left []string
	for _, j := range f.jobs() {
		left = append(left, j.Name)
	}
	// 3 complete (limit 3) stay; of 2 failed (limit 1) the older goes.
	want := []string{names[0], names[1], names[2], names[4]}
	if !slices.Equal(left, want) {
		t.Fatalf("jobs left %v, want %v", left, want)
	}
	if cj := f.cronJob(); len(cj.Status.Active) != 0 {
		t.Fatalf("finished jobs still active: %+v", cj.Status.Active)
	}
}

func TestTimeZone(t *testing.T) {
	if _, err := time.LoadLocation("Europe/Paris"); err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	// 13:00 in Paris is 12:00 UTC in March (before DST).
	f := newFixture(t, newCronJob(func(cj *batchv1.CronJob) {
		cj.Spec.Schedule = "0 13 * * *"
		cj.Spec.TimeZone = ptr.To("Europe/Paris")
		cj.CreationTimestamp = metav1.NewTime(t0.Add(-time.Hour))
	}))
	f.sync()
	jobs := f.jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
	if got := jobs[0].Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2025-03-10T13:00:00+01:00" {
		t.Fatalf("annotation %q", got)
	}
	f.recorder.Events = make(chan string, 10)
	bad := newCronJob(func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus") })
	g := newFixture(t, bad)
	g.clock.Step(2 * time.Minute)
	g.sync()
	if n := len(g.jobs()); n != 0 {
		t.Fatalf("job created with an invalid time zone")
	}
	if ev := strings.Join(g.events(), "\n"); !strings.Contains(ev, "UnknownTimeZone") {
		t.Fatalf("events %q", ev)
	}
}
