package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/simnode"
	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// Simulated nodes finish the pods of Jobs on their own after a run time set per pod by
// annotation, Succeeded unless an exit code annotation says otherwise.
func runFor(d string) map[string]string {
	return map[string]string{simnode.AnnotationDuration: d}
}

func failAfter(d string) map[string]string {
	return map[string]string{simnode.AnnotationDuration: d, simnode.AnnotationExitCode: "1"}
}

const batchTimeout = 90 * time.Second

// TestBatchAndGarbageCollection drives the Job, CronJob, garbage collector, namespace,
// ServiceAccount and endpoints controllers of a real server whose pods run on simulated nodes.
func TestBatchAndGarbageCollection(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server and simulated nodes")
	}
	s := framework.Start(t, framework.Options{})
	s.Simulate(t, "--simulate", "3", "--node-name-prefix", "bgc-")
	workloadWaitNodes(t, s.Client, 3)

	t.Run("JobCompletions5Parallelism2", func(t *testing.T) { testJobCompletions(t, s) })
	t.Run("JobStopsAtBackoffLimit", func(t *testing.T) { testJobBackoffLimit(t, s) })
	t.Run("CronJobEveryMinute", func(t *testing.T) { testCronJobEveryMinute(t, s) })
	t.Run("GarbageCollectionCascades", func(t *testing.T) { testCascades(t, s) })
	t.Run("EndpointsAndSlices", func(t *testing.T) { testEndpoints(t, s) })
	t.Run("NamespaceDeletion", func(t *testing.T) { testNamespaceDeletion(t, s) })
}

func batchJob(name string, completions, parallelism, backoffLimit int32, annotations map[string]string) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: batchv1.JobSpec{
			Completions:  ptr.To(completions),
			Parallelism:  ptr.To(parallelism),
			BackoffLimit: ptr.To(backoffLimit),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Annotations: annotations},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "work", Image: "busybox", Command: []string{"true"}}},
				},
			},
		},
	}
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func waitJobCondition(t *testing.T, c kubernetes.Interface, ns, name string, cond batchv1.JobConditionType) *batchv1.Job {
	t.Helper()
	var job *batchv1.Job
	framework.Eventually(t, batchTimeout, fmt.Sprintf("job %s %s", name, cond), func() (bool, error) {
		j, err := c.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		job = j
		return jobCondition(j, cond) != nil, fmt.Errorf("status %+v", j.Status)
	})
	return job
}

func testJobCompletions(t *testing.T, s *framework.Server) {
	c := s.Client
	ns := workloadNamespace(t, c, "batch-complete")
	// At no moment may more than parallelism pods of the Job be running.
	w := watchPods(t, c, ns, "batch.kubernetes.io/job-name=five", func(pods map[string]*corev1.Pod, _ watch.Event) string {
		active := 0
		for _, p := range pods {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				active++
			}
		}
		if active > 2 {
			return fmt.Sprintf("%d active pods, parallelism is 2", active)
		}
		return ""
	})
	if _, err := c.BatchV1().Jobs(ns).Create(context.Background(), batchJob("five", 5, 2, 6, runFor("1s")), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create job: %v", err)
	}
	job := waitJobCondition(t, c, ns, "five", batchv1.JobComplete)
	w.finish(t)
	if job.Status.Succeeded != 5 || job.Status.Failed != 0 || job.Status.CompletionTime == nil {
		t.Fatalf("status %+v", job.Status)
	}
	if jobCondition(job, batchv1.JobSuccessCriteriaMet) == nil {
		t.Error("no SuccessCriteriaMet condition")
	}
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=five"})
	if err != nil {
		t.Fatal(err)
	}
	succeeded := 0
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Name, "five-") || len(p.Name) != len("five-")+5 {
			t.Errorf("pod name %q is not five-<5 random chars>", p.Name)
		}
		if p.Labels["batch.kubernetes.io/controller-uid"] != string(job.UID) || p.Labels["controller-uid"] != string(job.UID) {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
		for _, f := range p.Finalizers {
			if f == batchv1.JobTrackingFinalizer {
				t.Errorf("pod %s keeps the tracking finalizer", p.Name)
			}
		}
		if p.Status.Phase == corev1.PodSucceeded {
			succeeded++
		}
	}
	if succeeded != 5 || len(pods.Items) != 5 {
		t.Fatalf("%d pods, %d succeeded; want exactly 5 succeeded pods", len(pods.Items), succeeded)
	}
	out := s.MustKubectl(t, "get", "job", "five", "-n", ns)
	if !strings.Contains(out, "5/5") {
		t.Errorf("kubectl get job:\n%s", out)
	}
}

func testJobBackoffLimit(t *testing.T, s *framework.Server) {
	c := s.Client
	ns := workloadNamespace(t, c, "batch-fail")
	if _, err := c.BatchV1().Jobs(ns).Create(context.Background(), batchJob("doomed", 1, 1, 1, failAfter("100ms")), metav1.CreateOptions{}); err != nil {
		t.Fatalf("create job: %v", err)
	}
	// backoffLimit 1: the first failure is retried after the 10 s back-off, the second ends it.
	job := waitJobCondition(t, c, ns, "doomed", batchv1.JobFailed)
	cond := jobCondition(job, batchv1.JobFailed)
	if cond.Reason != batchv1.JobReasonBackoffLimitExceeded || cond.Message != "Job has reached the specified backoff limit" {
		t.Fatalf("Failed condition %+v", cond)
	}
	if job.Status.Failed != 2 || job.Status.Succeeded != 0 || job.Status.Active != 0 {
		t.Fatalf("status %+v", job.Status)
	}
	pods, _ := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=doomed"})
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods, want 2 (one try and one retry)", len(pods.Items))
	}
}

func testCronJobEveryMinute(t *testing.T, s *framework.Server) {
	c := s.Client
	ns := workloadNamespace(t, c, "batch-cron")
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule:    "*/1 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchJob("", 1, 1, 0, runFor("100ms")).Spec},
		},
	}
	if _, err := c.BatchV1().CronJobs(ns).Create(context.Background(), cj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create cronjob: %v", err)
	}
	var job batchv1.Job
	framework.Eventually(t, 75*time.Second, "a job of the cronjob", func() (bool, error) {
		jobs, err := c.BatchV1().Jobs(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(jobs.Items) == 0 {
			return false, err
		}
		job = jobs.Items[0]
		return true, nil
	})
	scheduled, err := time.Parse(time.RFC3339, job.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
	if err != nil {
		t.Fatalf("scheduled-timestamp annotation: %v", err)
	}
	if scheduled.Second() != 0 {
		t.Errorf("scheduled time %v is not on a minute", scheduled)
	}
	if want := fmt.Sprintf("tick-%d", scheduled.Unix()/60); job.Name != want {
		t.Errorf("job name %s, want %s", job.Name, want)
	}
	if lag := job.CreationTimestamp.Sub(scheduled); lag < 0 || lag > 10*time.Second {
		t.Errorf("job created %v after its scheduled time", lag)
	}
	framework.Eventually(t, batchTimeout, "cronjob status", func() (bool, error) {
		got, err := c.BatchV1().CronJobs(ns).Get(context.Background(), "tick", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.LastScheduleTime != nil && got.Status.LastSuccessfulTime != nil,
			fmt.Errorf("status %+v", got.Status)
	})
}

// deploymentWithPods creates a Deployment and waits for its pods.
func deploymentWithPods(t *testing.T, c kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	d := newWorkloadDeployment(name, replicas, "nginx:1")
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	workloadWaitReady(t, c, ns, name, int(replicas))
}

func replicaSetsOf(t *testing.T, c kubernetes.Interface, ns, app string) []appsv1.ReplicaSet {
	t.Helper()
	list, err := c.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func testCascades(t *testing.T, s *framework.Server) {
	c := s.Client
	ns := workloadNamespace(t, c, "gc")
	for _, cascade := range []string{"background", "foreground"} {
		name := "gc-" + cascade
		deploymentWithPods(t, c, ns, name, 2)
		s.MustKubectl(t, "delete", "deployment", name, "-n", ns, "--cascade="+cascade)
		framework.Eventually(t, batchTimeout, name+" replica sets and pods gone", func() (bool, error) {
			rss := replicaSetsOf(t, c, ns, name)
			pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
			if err != nil {
				return false, err
			}
			return len(rss) == 0 && len(pods.Items) == 0, fmt.Errorf("%d replica sets, %d pods", len(rss), len(pods.Items))
		})
	}

	name := "gc-orphan"
	deploymentWithPods(t, c, ns, name, 2)
	s.MustKubectl(t, "delete", "deployment", name, "-n", ns, "--cascade=orphan")
	framework.Eventually(t, batchTimeout, "orphaned replica set released", func() (bool, error) {
		if _, err := c.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("deployment still there: %v", err)
		}
		rss := replicaSetsOf(t, c, ns, name)
		return len(rss) == 1 && len(rss[0].OwnerReferences) == 0, fmt.Errorf("replica sets %d", len(rss))
	})
	// The orphans stay, and keep running.
	time.Sleep(2 * time.Second)
	if pods := workloadLivePods(t, c, ns, name); len(pods) != 2 {
		t.Fatalf("%d pods left after orphan deletion, want 2", len(pods))
	}
}

func testEndpoints(t *testing.T, s *framework.Server) {
	c := s.Client
	ns := workloadNamespace(t, c, "ep")
	// Every namespace gets its default ServiceAccount.
	framework.Eventually(t, batchTimeout, "default serviceaccount", func() (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, err
	})
	deploymentWithPods(t, c, ns, "web", 3)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := c.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, batchTimeout, "endpoints with 3 ready addresses", func() (bool, error) {
		ep, err := c.CoreV1().Endpoints(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		n := 0
		for _, ss := range ep.Subsets {
			n += len(ss.Addresses)
		}
		return n == 3, fmt.Errorf("subsets %+v", ep.Subsets)
	})
	framework.Eventually(t, batchTimeout, "endpointslice with 3 ready endpoints", func() (bool, error) {
		slices, err := c.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, sl := range slices.Items {
			if sl.Labels[discoveryv1.LabelManagedBy] != "endpointslice-controller.k8s.io" {
				return false, fmt.Errorf("slice %s managed by %q", sl.Name, sl.Labels[discoveryv1.LabelManagedBy])
			}
			for _, e := range sl.Endpoints {
				if ptr.Deref(e.Conditions.Ready, false) {
					ready++
				}
			}
		}
		return ready == 3, fmt.Errorf("%d slices, %d ready endpoints", len(slices.Items), ready)
	})
}

func testNamespaceDeletion(t *testing.T, s *framework.Server) {
	c := s.Client
	ns := workloadNamespace(t, c, "doomed")
	deploymentWithPods(t, c, ns, "app", 2)
	if _, err := c.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.BatchV1().Jobs(ns).Create(context.Background(), batchJob("work", 1, 1, 0, runFor("1h")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.MustKubectl(t, "delete", "namespace", ns, "--wait=false")
	framework.Eventually(t, batchTimeout, "namespace gone", func() (bool, error) {
		got, err := c.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return false, fmt.Errorf("phase %s, conditions %+v", got.Status.Phase, got.Status.Conditions)
	})
	pods, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Fatalf("%d pods left in the deleted namespace", len(pods.Items))
	}
}

// TestLostNodePodsRecreatedElsewhere kills the simulated-node process of one node and expects
// the node lifecycle controller to mark the node unreachable and evict its pods after their
// tolerationSeconds, so that the ReplicaSet recreates them on the surviving nodes.
func TestLostNodePodsRecreatedElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server and simulated nodes")
	}
	const grace, toleration = 5 * time.Second, 2
	s := framework.Start(t, framework.Options{ExtraArgs: []string{"--node-monitor-grace-period", grace.String()}})
	c := s.Client
	doomed := s.Simulate(t, "--simulate", "1", "--node-name-prefix", "lost-")
	workloadWaitNodes(t, c, 1)
	ns := workloadNamespace(t, c, "nodeloss")
	d := newWorkloadDeployment("web", 3, "nginx:1")
	d.Spec.Template.Spec.Tolerations = []corev1.Toleration{
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](toleration)},
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](toleration)},
	}
	if _, err := c.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range workloadWaitReady(t, c, ns, "web", 3) {
		if !strings.HasPrefix(p.Spec.NodeName, "lost-") {
			t.Fatalf("pod %s on %s before the other nodes exist", p.Name, p.Spec.NodeName)
		}
	}
	s.Simulate(t, "--simulate", "2", "--node-name-prefix", "stay-")
	workloadWaitNodes(t, c, 3)

	doomed.Stop()
	killed := time.Now()
	framework.Eventually(t, batchTimeout, "pods recreated on surviving nodes", func() (bool, error) {
		pods := workloadLivePods(t, c, ns, "web")
		ready := 0
		for i := range pods {
			if strings.HasPrefix(pods[i].Spec.NodeName, "stay-") && workloadPodReady(&pods[i]) {
				ready++
			}
		}
		return ready == 3, fmt.Errorf("%d live pods, %d ready on surviving nodes", len(pods), ready)
	})
	elapsed := time.Since(killed)
	t.Logf("pods recreated %v after the node died (grace %v + toleration %ds)", elapsed.Round(100*time.Millisecond), grace, toleration)
	// Lease renewal period (up to 10 s) + grace + toleration + scheduling and start.
	if limit := 10*time.Second + grace + toleration*time.Second + 15*time.Second; elapsed > limit {
		t.Errorf("recreation took %v, more than %v", elapsed, limit)
	}
	var lost *corev1.Node
	nodes, _ := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	for i := range nodes.Items {
		if strings.HasPrefix(nodes.Items[i].Name, "lost-") {
			lost = &nodes.Items[i]
		}
	}
	if lost == nil {
		t.Fatal("lost node vanished")
	}
	var unreachable bool
	for _, taint := range lost.Spec.Taints {
		unreachable = unreachable || (taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute)
	}
	for _, cond := range lost.Status.Conditions {
		if cond.Type == corev1.NodeReady && (cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown") {
			t.Errorf("lost node Ready condition %+v", cond)
		}
	}
	if !unreachable {
		t.Errorf("lost node taints %+v lack unreachable:NoExecute", lost.Spec.Taints)
	}
}
