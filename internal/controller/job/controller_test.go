package job

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture drives the controller against the fake API: refresh plays the role of the informers
// (copying API state into the caches and calling the event handlers), and the tests play the
// kubelet by setting pod phases.
type fixture struct {
	t       *testing.T
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	clock   *testingclock.FakeClock
	rv      int
	created []string
}

func newFixture(t *testing.T, job *batchv1.Job) *fixture {
	t.Helper()
	client := fake.NewClientset(job)
	f := &fixture{t: t, client: client, clock: testingclock.NewFakeClock(t0)}
	uid := 0
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		uid++
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, uid)
		}
		p.UID = types.UID(fmt.Sprintf("pod-uid-%d", uid))
		p.CreationTimestamp = metav1.NewTime(f.clock.Now())
		f.created = append(f.created, p.Name)
		return false, nil, nil
	})
	f.factory = informers.NewSharedInformerFactory(client, 0)
	f.c = New(client, f.factory, Options{Clock: f.clock})
	f.refresh()
	return f
}

func (f *fixture) refresh() {
	f.t.Helper()
	ctx := context.Background()
	jobIdx := f.factory.Batch().V1().Jobs().Informer().GetIndexer()
	jobs, _ := f.client.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	for _, o := range jobIdx.List() {
		_ = jobIdx.Delete(o)
	}
	for i := range jobs.Items {
		_ = jobIdx.Add(&jobs.Items[i])
	}
	podIdx := f.factory.Core().V1().Pods().Informer().GetIndexer()
	pods, _ := f.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	seen := sets.New[string]()
	for i := range pods.Items {
		p := &pods.Items[i]
		key := p.Namespace + "/" + p.Name
		seen.Insert(key)
		old, exists, _ := podIdx.GetByKey(key)
		switch {
		case !exists:
			f.rv++
			p.ResourceVersion = strconv.Itoa(f.rv)
			_ = podIdx.Add(p)
			f.c.onPodAdd(p)
		default:
			oldPod := old.(*corev1.Pod)
			cmp := p.DeepCopy()
			cmp.ResourceVersion = oldPod.ResourceVersion
			if apiequality.Semantic.DeepEqual(cmp, oldPod) {
				continue
			}
			f.rv++
			p.ResourceVersion = strconv.Itoa(f.rv)
			_ = podIdx.Update(p)
			f.c.onPodUpdate(oldPod, p)
		}
	}
	for _, o := range podIdx.List() {
		p := o.(*corev1.Pod)
		if !seen.Has(p.Namespace + "/" + p.Name) {
			_ = podIdx.Delete(p)
			f.c.onPodDelete(p)
		}
	}
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.syncJob(context.Background(), "ns/job"); err != nil {
		f.t.Fatalf("syncJob: %v", err)
	}
	f.refresh()
}

func (f *fixture) job() *batchv1.Job {
	f.t.Helper()
	j, err := f.client.BatchV1().Jobs("ns").Get(context.Background(), "job", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

func (f *fixture) pods() []*corev1.Pod {
	list, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out
}

// finishActive plays the kubelet: every running pod ends in phase.
func (f *fixture) finishActive(phase corev1.PodPhase) int {
	n := 0
	for _, p := range f.pods() {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		p.Status.Phase = phase
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(f.clock.Now())}}}}
		_, _ = f.client.CoreV1().Pods("ns").UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		n++
	}
	f.refresh()
	return n
}

func (f *fixture) runActive() {
	for _, p := range f.pods() {
		if p.Status.Phase == "" || p.Status.Phase == corev1.PodPending {
			p.Spec.NodeName = "node-1"
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			_, _ = f.client.CoreV1().Pods("ns").UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		}
	}
	f.refresh()
}

func newJob(mut ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "job", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "job-uid"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					batchv1.ControllerUidLabel: "job-uid", batchv1.JobNameLabel: "job", "job-name": "job", "controller-uid": "job-uid"}},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
			BackoffLimit: ptr.To[int32](6),
		},
	}
	for _, m := range mut {
		m(j)
	}
	return j
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	return findCondition(j, t)
}

func TestCompletionsWithParallelism(t *testing.T) {
	f := newFixture(t, newJob(func(j *batchv1.Job) {
		j.Spec.Completions = ptr.To[int32](5)
		j.Spec.Parallelism = ptr.To[int32](2)
	}))
	maxActive := 0
	for round := 0; round < 20 && !isFinished(f.job()); round++ {
		f.sync()
		active := len(activePods(f.pods()))
		maxActive = max(maxActive, active)
		if j := f.job(); int(j.Status.Active) != active {
			t.Fatalf("round %d: status.active %d, pods active %d", round, j.Status.Active, active)
		}
		f.runActive()
		f.sync()
		f.finishActive(corev1.PodSucceeded)
	}
	j := f.job()
	if !isFinished(j) {
		t.Fatalf("job did not finish: %+v", j.Status)
	}
	if maxActive != 2 {
		t.Errorf("max active pods %d, want parallelism 2", maxActive)
	}
	if j.Status.Succeeded != 5 || j.Status.Failed != 0 || len(f.created) != 5 {
		t.Fatalf("succeeded %d failed %d created %d; want exactly 5 pods, 5 succeeded", j.Status.Succeeded, j.Status.Failed, len(f.created))
	}
	complete := condition(j, batchv1.JobComplete)
	if complete == nil || complete.Status != corev1.ConditionTrue || complete.Reason != batchv1.JobReasonCompletionsReached {
		t.Fatalf("Complete condition %+v", complete)
	}
	if c := condition(j, batchv1.JobSuccessCriteriaMet); c == nil || c.Status != corev1.ConditionTrue {
		t.Fatalf("SuccessCriteriaMet condition %+v", c)
	}
	if j.Status.CompletionTime == nil || j.Status.StartTime == nil {
		t.Fatal("start or completion time missing")
	}
	if u := j.Status.UncountedTerminatedPods; u != nil && (len(u.Succeeded) > 0 || len(u.Failed) > 0) {
		t.Fatalf("uncounted left: %+v", u)
	}
	for _, p := range f.pods() {
		if hasTrackingFinalizer(p) {
			t.Errorf("pod %s keeps the tracking finalizer", p.Name)
		}
		if p.Labels[batchv1.JobNameLabel] != "job" || metav1.GetControllerOf(p).UID != "job-uid" {
			t.Errorf("pod %s labels %v owner %v", p.Name, p.Labels, p.OwnerReferences)
		}
	}
}

func TestPodsCreatedWithFinalizerAndCountedThroughUncounted(t *testing.T) {
	f := newFixture(t, newJob(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](1) }))
	f.sync()
	pods := f.pods()
	if len(pods) != 1 || !hasTrackingFinalizer(pods[0]) {
		t.Fatalf("pods %+v", pods)
	}
	f.finishActive(corev1.PodSucceeded)

	// The first status write carries the UID in uncountedTerminatedPods, before the finalizer
	// is removed; the second moves it into the counter.
	f.client.ClearActions()
	f.sync()
	var sawUncounted, sawPatch bool
	for _, a := range f.client.Actions() {
		switch {
		case a.GetVerb() == "update" && a.GetSubresource() == "status" && !sawPatch:
			j := a.(k8stesting.UpdateAction).GetObject().(*batchv1.Job)
			if u := j.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded) == 1 {
				sawUncounted = true
			}
		case a.GetVerb() == "patch" && a.GetResource().Resource == "pods":
			if !sawUncounted {
				t.Fatal("finalizer removed before the UID was recorded")
			}
			sawPatch = true
		}
	}
	if !sawPatch {
		t.Fatal("finalizer not removed")
	}
	j := f.job()
	if j.Status.Succeeded != 1 || condition(j, batchv1.JobComplete) == nil {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestBackoffLimit(t *testing.T) {
	f := newFixture(t, newJob(func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](2) }))
	f.sync()
	for failures := 1; failures <= 3; failures++ {
		if n := f.finishActive(corev1.PodFailed); n != 1 {
			t.Fatalf("failure %d: %d active pods failed, want 1", failures, n)
		}
		f.sync()
		if failures == 3 {
			break
		}
		// The replacement waits 10 s, then 20 s.
		wait := DefaultPodFailureBackoff << (failures - 1)
		if n := len(activePods(f.pods())); n != 0 {
			t.Fatalf("after failure %d: replacement created without back-off", failures)
		}
		f.clock.Step(wait - time.Second)
		f.sync()
		if n := len(activePods(f.pods())); n != 0 {
			t.Fatalf("after failure %d: replacement created %v early", failures, time.Second)
		}
		f.clock.Step(time.Second)
		f.sync()
		if n := len(activePods(f.pods())); n != 1 {
			t.Fatalf("after failure %d and back-off: %d active pods, want 1", failures, n)
		}
	}
	j := f.job()
	failed := condition(j, batchv1.JobFailed)
	if failed == nil || failed.Reason != batchv1.JobReasonBackoffLimitExceeded || failed.Message != "Job has reached the specified backoff limit" {
		t.Fatalf("Failed condition %+v", failed)
	}
	if c := condition(j, batchv1.JobFailureTarget); c == nil || c.Reason != batchv1.JobReasonBackoffLimitExceeded {
		t.Fatalf("FailureTarget condition %+v", c)
	}
	if j.Status.Failed != 3 || len(f.created) != 3 || j.Status.CompletionTime != nil {
		t.Fatalf("failed %d created %d completionTime %v", j.Status.Failed, len(f.created), j.Status.CompletionTime)
	}
}

func TestActiveDeadline(t *testing.T) {
	f := newFixture(t, newJob(func(j *batchv1.Job) {
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
		j.Spec.Parallelism = ptr.To[int32](2)
		j.Spec.Completions = ptr.To[int32](4)
	}))
	f.sync()
	f.runActive()
	f.clock.Step(29 * time.Second)
	f.sync()
	if condition(f.job(), batchv1.JobFailureTarget) != nil {
		t.Fatal("deadline hit early")
	}
	f.clock.Step(time.Second)
	f.sync() // FailureTarget, pods deleted (the fake API removes them at once)
	f.sync() // all pods gone: Failed
	j := f.job()
	failed := condition(j, batchv1.JobFailed)
	if failed == nil || failed.Reason != batchv1.JobReasonDeadlineExceeded || failed.Message != "Job was active longer than specified deadline" {
		t.Fatalf("Failed condition %+v", failed)
	}
	if len(f.pods()) != 0 || j.Status.Active != 0 {
		t.Fatalf("pods left %d, active %d", len(f.pods()), j.Status.Active)
	}
}

func TestSuspendAndResume(t *testing.T) {
	f := newFixture(t, newJob(func(j *batchv1.Job) {
		j.Spec.Suspend = ptr.To(true)
		j.Spec.Parallelism = ptr.To[int32](2)
		j.Spec.Completions = ptr.To[int32](2)
	}))
	f.sync()
	j := f.job()
	if len(f.pods()) != 0 || j.Status.StartTime != nil {
		t.Fatalf("suspended job started: pods %d startTime %v", len(f.pods()), j.Status.StartTime)
	}
	if c := condition(j, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionTrue || c.Reason != "JobSuspended" {
		t.Fatalf("Suspended condition %+v", c)
	}
	f.clock.Step(time.Minute)
	j.Spec.Suspend = ptr.To(false)
	_, _ = f.client.BatchV1().Jobs("ns").Update(context.Background(), j, metav1.UpdateOptions{})
	f.refresh()
	f.sync()
	j = f.job()
	if len(activePods(f.pods())) != 2 {
		t.Fatalf("resumed job runs %d pods, want 2", len(activePods(f.pods())))
	}
	if c := condition(j, batchv1.JobSuspended); c == nil || c.Status != corev1.ConditionFalse || c.Reason != "JobResumed" {
		t.Fatalf("Suspended condition after resume %+v", c)
	}
	if j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(f.clock.Now()) {
		t.Fatalf("startTime %v, want resume time", j.Status.StartTime)
	}

	// Suspending again deletes the running pods without counting failures.
	j.Spec.Suspend = ptr.To(true)
	_, _ = f.client.BatchV1().Jobs("ns").Update(context.Background(), j, metav1.UpdateOptions{})
	f.refresh()
	f.sync()
	j = f.job()
	if len(f.pods()) != 0 || j.Status.Failed != 0 || j.Status.Active != 0 {
		t.Fatalf("after suspend: pods %d failed %d active %d", len(f.pods()), j.Status.Failed, j.Status.Active)
	}
}

func TestIndexedJob(t *testing.T) {
	f := newFixture(t, newJob(func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.Completions = ptr.To[int32](3)
		j.Spec.Parallelism = ptr.To[int32](2)
	}))
	f.sync()
	pods := f.pods()
	if len(pods) != 2 {
		t.Fatalf("%d pods, want 2", len(pods))
	}
	indexes := sets.New[int]()
	for _, p := range pods {
		ix, ok := completionIndex(p)
		if !ok {
			t.Fatalf("pod %s has no index", p.Name)
		}
		indexes.Insert(ix)
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != strconv.Itoa(ix) || p.Spec.Hostname != fmt.Sprintf("job-%d", ix) {
			t.Errorf("pod %s: label %v hostname %q", p.Name, p.Labels, p.Spec.Hostname)
		}
		if want := fmt.Sprintf("job-%d-", ix); p.GenerateName != want {
			t.Errorf("generateName %q, want %q", p.GenerateName, want)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("env %+v", env)
		}
	}
	if !indexes.Equal(sets.New(0, 1)) {
		t.Fatalf("indexes %v, want 0 and 1", sets.List(indexes))
	}
	for round := 0; round < 5 && !isFinished(f.job()); round++ {
		f.finishActive(corev1.PodSucceeded)
		f.sync()
		f.sync()
	}
	j := f.job()
	if !isFinished(j) || j.Status.CompletedIndexes != "0-2" || j.Status.Succeeded != 3 {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestTTLAfterFinished(t *testing.T) {
	finished := newJob(func(j *batchv1.Job) {
		j.Spec.TTLSecondsAfterFinished = ptr.To[int32](10)
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
	})
	f := newFixture(t, finished)
	f.clock.Step(9 * time.Second)
	f.sync()
	f.job() // still there
	f.clock.Step(time.Second)
	f.client.ClearActions()
	if err := f.c.syncJob(context.Background(), "ns/job"); err != nil {
		t.Fatal(err)
	}
	var deleted bool
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.GetResource().Resource == "jobs" {
			deleted = true
			if p := d.DeleteOptions.PropagationPolicy; p == nil || *p != metav1.DeletePropagationBackground {
				t.Errorf("propagation %v, want Background", p)
			}
		}
	}
	if !deleted {
		t.Fatal("job not deleted after its TTL")
	}
}

func TestOrphanPodLosesFinalizer(t *testing.T) {
	f := newFixture(t, newJob())
	orphan := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "ns", UID: "orphan-uid",
		Finalizers:      []string{batchv1.JobTrackingFinalizer},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "gone", UID: "gone-uid", Controller: ptr.To(true)}}}}
	_, _ = f.client.CoreV1().Pods("ns").Create(context.Background(), orphan, metav1.CreateOptions{})
	f.refresh()
	if f.c.orphanQueue.Len() != 1 {
		t.Fatalf("orphan queue length %d", f.c.orphanQueue.Len())
	}
	if err := f.c.syncOrphanPod(context.Background(), "ns/orphan"); err != nil {
		t.Fatal(err)
	}
	p, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
	if hasTrackingFinalizer(p) {
		t.Fatal("finalizer kept")
	}
}

func TestIndexesFormat(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0,1"},
		{[]int{1, 3, 4, 5, 7}, "1,3-5,7"},
		{[]int{0, 1, 2, 3}, "0-3"},
	}
	for _, tc := range tests {
		got := formatIndexes(sets.New(tc.in...))
		if got != tc.want {
			t.Errorf("formatIndexes(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if back := parseIndexes(got, 100); !back.Equal(sets.New(tc.in...)) {
			t.Errorf("parseIndexes(%q) = %v", got, sets.List(back))
		}
	}
	if got := parseIndexes("1,3-5,90", 5); !got.Equal(sets.New(1, 3, 4)) {
		t.Errorf("limit not applied: %v", sets.List(got))
	}
}

func TestPodReplacementPolicy(t *testing.T) {
	tests := []struct {
		policy      batchv1.PodReplacementPolicy
		wantActive  int
		wantFailed  int32
		description string
	}{
		{batchv1.TerminatingOrFailed, 1, 1, "a terminating pod counts as failed and is replaced at once"},
		{batchv1.Failed, 0, 0, "a terminating pod is replaced only once it has failed"},
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			f := newFixture(t, newJob(func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr.To(tc.policy) }))
			f.sync()
			f.runActive()
			p := f.pods()[0]
			now := metav1.NewTime(f.clock.Now())
			p.DeletionTimestamp = &now
			_, _ = f.client.CoreV1().Pods("ns").Update(context.Background(), p, metav1.UpdateOptions{})
			f.refresh()
			f.sync()
			f.clock.Step(time.Minute) // past any back-off
			f.sync()
			if n := len(activePods(f.pods())); n != tc.wantActive {
				t.Fatalf("%s: %d active pods, want %d", tc.description, n, tc.wantActive)
			}
			if got := f.job().Status.Failed; got != tc.wantFailed {
				t.Fatalf("%s: failed %d, want %d", tc.description, got, tc.wantFailed)
			}
		})
	}
}
