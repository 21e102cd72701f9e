package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestWorkloadControllers drives the Deployment, StatefulSet and DaemonSet controllers of a real
// server whose pods run on simulated nodes (which report them Running and Ready on their own).
func TestWorkloadControllers(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server and simulated nodes")
	}
	s := framework.Start(t, framework.Options{})
	s.Simulate(t, "--simulate", "3", "--node-name-prefix", "wl-")
	workloadWaitNodes(t, s.Client, 3)

	t.Run("DeploymentScaleAndReplace", func(t *testing.T) { testDeploymentScaleAndReplace(t, s) })
	t.Run("DeploymentRollingUpdateUndoHistory", func(t *testing.T) { testDeploymentRollingUpdate(t, s) })
	t.Run("DeploymentRecreateNeverOverlaps", func(t *testing.T) { testDeploymentRecreate(t, s) })
	t.Run("StatefulSetOrderingAndClaims", func(t *testing.T) { testStatefulSet(t, s) })
	// Last: it adds a node to the cluster.
	t.Run("DaemonSetIncludingLateNode", func(t *testing.T) {
		testDaemonSet(t, s, func() { s.Simulate(t, "--simulate", "1", "--node-name-prefix", "wl-late-") })
	})
}

const workloadTimeout = 90 * time.Second

func workloadNamespace(t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

func workloadWaitNodes(t *testing.T, c kubernetes.Interface, n int) {
	t.Helper()
	framework.Eventually(t, workloadTimeout, fmt.Sprintf("%d ready nodes", n), func() (bool, error) {
		nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, node := range nodes.Items {
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready >= n, fmt.Errorf("%d ready", ready)
	})
}

func workloadTemplate(app, image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
}

func workloadPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// workloadLivePods lists the pods of app that are not being deleted.
func workloadLivePods(t *testing.T, c kubernetes.Interface, ns, app string) []corev1.Pod {
	t.Helper()
	list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// workloadWaitReady waits until exactly n live pods of app exist and all are Ready.
func workloadWaitReady(t *testing.T, c kubernetes.Interface, ns, app string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	framework.Eventually(t, workloadTimeout, fmt.Sprintf("%d ready pods of %s", n, app), func() (bool, error) {
		pods = workloadLivePods(t, c, ns, app)
		ready := 0
		for i := range pods {
			if workloadPodReady(&pods[i]) && pods[i].Status.Phase == corev1.PodRunning {
				ready++
			}
		}
		return len(pods) == n && ready == n, fmt.Errorf("%d live, %d ready", len(pods), ready)
	})
	return pods
}

// podWatcher follows the pods of one selector from a consistent list and calls check with the
// complete current state after every event.
type podWatcher struct {
	mu     sync.Mutex
	pods   map[string]*corev1.Pod
	errs   []string
	events int
	stop   context.CancelFunc
	done   chan struct{}
}

func watchPods(t *testing.T, c kubernetes.Interface, ns, selector string, check func(pods map[string]*corev1.Pod, ev watch.Event) string) *podWatcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	w := &podWatcher{pods: map[string]*corev1.Pod{}, stop: cancel, done: make(chan struct{})}
	for i := range list.Items {
		w.pods[list.Items[i].Name] = &list.Items[i]
	}
	wi, err := c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatalf("watch pods: %v", err)
	}
	go func() {
		defer close(w.done)
		defer wi.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-wi.ResultChan():
				if !ok {
					w.mu.Lock()
					if ctx.Err() == nil {
						w.errs = append(w.errs, "watch closed early")
					}
					w.mu.Unlock()
					return
				}
				p, isPod := ev.Object.(*corev1.Pod)
				if !isPod {
					continue
				}
				w.mu.Lock()
				w.events++
				if ev.Type == watch.Deleted {
					delete(w.pods, p.Name)
				} else {
					w.pods[p.Name] = p
				}
				if msg := check(w.pods, ev); msg != "" {
					w.errs = append(w.errs, fmt.Sprintf("after %s %s: %s", ev.Type, p.Name, msg))
				}
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// finish stops the watcher and fails the test with every violation it saw.
func (w *podWatcher) finish(t *testing.T) {
	t.Helper()
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.events == 0 {
		t.Error("watcher saw no events")
	}
	for i, e := range w.errs {
		if i == 10 {
			t.Errorf("... and %d more", len(w.errs)-10)
			break
		}
		t.Error(e)
	}
}

func newWorkloadDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: workloadTemplate(name, image),
		},
	}
}

func testDeploymentScaleAndReplace(t *testing.T, s *framework.Server) {
	ctx := context.Background()
	ns := workloadNamespace(t, s.Client, "wl-scale")
	if _, err := s.Client.AppsV1().Deployments(ns).Create(ctx, newWorkloadDeployment("web", 3, "nginx:1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	workloadWaitReady(t, s.Client, ns, "web", 3)
	s.MustKubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=10")
	workloadWaitReady(t, s.Client, ns, "web", 10)
	s.MustKubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=2")
	pods := workloadWaitReady(t, s.Client, ns, "web", 2)
	s.MustKubectl(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")

	victim := pods[0].Name
	if err := s.Client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, workloadTimeout, "a replacement for the deleted pod", func() (bool, error) {
		live := workloadLivePods(t, s.Client, ns, "web")
		ready := 0
		for i := range live {
			if live[i].Name == victim {
				return false, fmt.Errorf("%s still live", victim)
			}
			if workloadPodReady(&live[i]) {
				ready++
			}
		}
		return len(live) == 2 && ready == 2, fmt.Errorf("%d live, %d ready", len(live), ready)
	})
	d, err := s.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, workloadTimeout, "deployment status to settle", func() (bool, error) {
		d, err = s.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := d.Status
		return st.Replicas == 2 && st.ReadyReplicas == 2 && st.AvailableReplicas == 2 && st.UpdatedReplicas == 2 &&
			st.ObservedGeneration == d.Generation, fmt.Errorf("status %+v", st)
	})
}

func testDeploymentRollingUpdate(t *testing.T, s *framework.Server) {
	ctx := context.Background()
	ns := workloadNamespace(t, s.Client, "wl-rolling")
	const replicas, surge, unavailable = 6, 2, 1
	d := newWorkloadDeployment("web", replicas, "nginx:1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "v1"}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(surge)), MaxUnavailable: ptr.To(intstr.FromInt32(unavailable))}}
	if _, err := s.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	workloadWaitReady(t, s.Client, ns, "web", replicas)
	s.MustKubectl(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")

	bounds := func(pods map[string]*corev1.Pod, _ watch.Event) string {
		live, ready := 0, 0
		for _, p := range pods {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			live++
			if workloadPodReady(p) {
				ready++
			}
		}
		switch {
		case live > replicas+surge:
			return fmt.Sprintf("%d pods > replicas %d + maxSurge %d", live, replicas, surge)
		case ready < replicas-unavailable:
			return fmt.Sprintf("%d available < replicas %d - maxUnavailable %d", ready, replicas, unavailable)
		}
		return ""
	}

	// Roll out v2 under the watcher.
	w := watchPods(t, s.Client, ns, "app=web", bounds)
	s.MustKubectl(t, "-n", ns, "set", "image", "deployment/web", "app=nginx:2")
	s.MustKubectl(t, "-n", ns, "annotate", "deployment/web", "kubernetes.io/change-cause=v2", "--overwrite")
	s.MustKubectl(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=90s")
	workloadWaitImage(t, s.Client, ns, "web", replicas, "nginx:2")
	w.finish(t)

	// Undo restores the v1 template (and reuses its ReplicaSet), again within bounds.
	w = watchPods(t, s.Client, ns, "app=web", bounds)
	s.MustKubectl(t, "-n", ns, "rollout", "undo", "deployment/web")
	s.MustKubectl(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=90s")
	workloadWaitImage(t, s.Client, ns, "web", replicas, "nginx:1")
	w.finish(t)

	rss, err := s.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets after rollout and undo, want 2 (undo reuses the first)", len(rss.Items))
	}
	for _, rs := range rss.Items {
		if !strings.HasPrefix(rs.Name, "web-") || rs.Labels["pod-template-hash"] == "" || rs.Name != "web-"+rs.Labels["pod-template-hash"] {
			t.Errorf("ReplicaSet %s not named web-<pod-template-hash> (labels %v)", rs.Name, rs.Labels)
		}
	}

	out := s.MustKubectl(t, "-n", ns, "rollout", "history", "deployment/web")
	// Revision 1 became revision 3 on undo: history lists 2 and 3.
	if !strings.Contains(out, "REVISION") || !workloadHasRow(out, "2") || !workloadHasRow(out, "3") || workloadHasRow(out, "1") {
		t.Errorf("rollout history:\n%s", out)
	}
	if !strings.Contains(out, "v2") {
		t.Errorf("rollout history lacks change-cause v2:\n%s", out)
	}
	dep, err := s.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rev := dep.Annotations["deployment.kubernetes.io/revision"]; rev != "3" {
		t.Errorf("deployment revision annotation %q after undo, want 3", rev)
	}
	if cond := workloadCondition(dep, appsv1.DeploymentProgressing); cond == nil || cond.Reason != "NewReplicaSetAvailable" {
		t.Errorf("Progressing condition %+v", cond)
	}
	if cond := workloadCondition(dep, appsv1.DeploymentAvailable); cond == nil || cond.Status != corev1.ConditionTrue {
		t.Errorf("Available condition %+v", cond)
	}

	// Pause holds a template change back; resume rolls it out.
	s.MustKubectl(t, "-n", ns, "rollout", "pause", "deployment/web")
	s.MustKubectl(t, "-n", ns, "set", "image", "deployment/web", "app=nginx:3")
	time.Sleep(2 * time.Second)
	if rss, _ := s.Client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{}); len(rss.Items) != 2 {
		t.Errorf("paused deployment created a ReplicaSet")
	}
	s.MustKubectl(t, "-n", ns, "rollout", "resume", "deployment/web")
	s.MustKubectl(t, "-n", ns, "rollout", "status", "deployment/web", "--timeout=90s")
	workloadWaitImage(t, s.Client, ns, "web", replicas, "nginx:3")
}

func workloadHasRow(table, first string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return true
		}
	}
	return false
}

func workloadCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func workloadWaitImage(t *testing.T, c kubernetes.Interface, ns, app string, n int, image string) {
	t.Helper()
	framework.Eventually(t, workloadTimeout, fmt.Sprintf("%d pods of %s on %s", n, app, image), func() (bool, error) {
		all, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return false, err
		}
		match := 0
		for _, p := range all.Items {
			if p.Spec.Containers[0].Image != image {
				return false, fmt.Errorf("pod %s still on %s", p.Name, p.Spec.Containers[0].Image)
			}
			if workloadPodReady(&p) {
				match++
			}
		}
		return match == n, fmt.Errorf("%d ready on %s", match, image)
	})
}

func testDeploymentRecreate(t *testing.T, s *framework.Server) {
	ctx := context.Background()
	ns := workloadNamespace(t, s.Client, "wl-recreate")
	d := newWorkloadDeployment("db", 3, "postgres:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if _, err := s.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	workloadWaitReady(t, s.Client, ns, "db", 3)
	noOverlap := func(pods map[string]*corev1.Pod, _ watch.Event) string {
		images := map[string]int{}
		for _, p := range pods { // terminating pods still count: they may still be running
			images[p.Spec.Containers[0].Image]++
		}
		if len(images) > 1 {
			return fmt.Sprintf("old and new pods coexist: %v", images)
		}
		return ""
	}
	w := watchPods(t, s.Client, ns, "app=db", noOverlap)
	s.MustKubectl(t, "-n", ns, "set", "image", "deployment/db", "app=postgres:2")
	s.MustKubectl(t, "-n", ns, "rollout", "status", "deployment/db", "--timeout=90s")
	workloadWaitImage(t, s.Client, ns, "db", 3, "postgres:2")
	w.finish(t)
}

func testStatefulSet(t *testing.T, s *framework.Server) {
	ctx := context.Background()
	ns := workloadNamespace(t, s.Client, "wl-sts")
	set := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](3),
			ServiceName: "nginx",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "nginx"}},
			Template:    workloadTemplate("nginx", "nginx:1"),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "www"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}

	// Each pod may appear only once its predecessor is Ready; scale-down removes the highest
	// ordinal first, one at a time.
	var order []string
	ordered := func(pods map[string]*corev1.Pod, ev watch.Event) string {
		p := ev.Object.(*corev1.Pod)
		switch {
		case ev.Type == watch.Added:
			order = append(order, "+"+p.Name)
			var prev string
			switch p.Name {
			case "web-1":
				prev = "web-0"
			case "web-2":
				prev = "web-1"
			}
			if prev != "" && (pods[prev] == nil || !workloadPodReady(pods[prev])) {
				return fmt.Sprintf("%s created before %s was Ready", p.Name, prev)
			}
		case ev.Type == watch.Deleted || p.DeletionTimestamp != nil:
			if !strings.Contains(strings.Join(order, " "), "-"+p.Name) {
				order = append(order, "-"+p.Name)
			}
			if p.Name == "web-1" && pods["web-2"] != nil {
				return "web-1 deleted while web-2 still exists"
			}
		}
		return ""
	}
	w := watchPods(t, s.Client, ns, "app=nginx", ordered)
	if _, err := s.Client.AppsV1().StatefulSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := workloadWaitReady(t, s.Client, ns, "nginx", 3)
	for _, p := range pods {
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "nginx" || p.Labels["statefulset.kubernetes.io/pod-name"] != p.Name {
			t.Errorf("pod %s identity: hostname %q subdomain %q labels %v", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
		}
	}
	claims := map[string]string{}
	for i := range 3 {
		name := fmt.Sprintf("www-web-%d", i)
		pvc, err := s.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		claims[name] = string(pvc.UID)
	}
	s.MustKubectl(t, "-n", ns, "rollout", "status", "statefulset/web", "--timeout=60s")

	s.MustKubectl(t, "-n", ns, "scale", "statefulset/web", "--replicas=1")
	workloadWaitReady(t, s.Client, ns, "nginx", 1)
	framework.Eventually(t, workloadTimeout, "web-1 and web-2 gone", func() (bool, error) {
		list, err := s.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=nginx"})
		return err == nil && len(list.Items) == 1 && list.Items[0].Name == "web-0", err
	})
	w.finish(t)
	got := strings.Join(order, " ")
	if !strings.HasPrefix(got, "+web-0 +web-1 +web-2 -web-2 -web-1") {
		t.Errorf("pod order %q, want +web-0 +web-1 +web-2 -web-2 -web-1", got)
	}

	// Claims survive scale-down and pod deletion; a recreated pod gets its old claim back.
	if err := s.Client.CoreV1().Pods(ns).Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, workloadTimeout, "web-0 recreated", func() (bool, error) {
		p, err := s.Client.CoreV1().Pods(ns).Get(ctx, "web-0", metav1.GetOptions{})
		return err == nil && p.UID != pods[0].UID && p.DeletionTimestamp == nil && workloadPodReady(p), err
	})
	for name, uid := range claims {
		pvc, err := s.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || string(pvc.UID) != uid {
			t.Errorf("claim %s did not survive: %v", name, err)
		}
	}
	st, err := s.Client.AppsV1().StatefulSets(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.CurrentRevision == "" || st.Status.UpdateRevision != st.Status.CurrentRevision {
		t.Errorf("revisions current %q update %q", st.Status.CurrentRevision, st.Status.UpdateRevision)
	}
}

// testDaemonSet checks one daemon pod per node, also on the node addNode brings up later.
func testDaemonSet(t *testing.T, s *framework.Server, addNode func()) {
	ctx := context.Background()
	ns := workloadNamespace(t, s.Client, "wl-ds")
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: workloadTemplate("agent", "agent:1"),
		},
	}
	if _, err := s.Client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	onePerNode := func(n int) {
		t.Helper()
		pods := workloadWaitReady(t, s.Client, ns, "agent", n)
		seen := map[string]bool{}
		for _, p := range pods {
			if seen[p.Spec.NodeName] {
				t.Errorf("two daemon pods on %s", p.Spec.NodeName)
			}
			seen[p.Spec.NodeName] = true
		}
		framework.Eventually(t, workloadTimeout, "daemonset status", func() (bool, error) {
			got, err := s.Client.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			st := got.Status
			return st.DesiredNumberScheduled == int32(n) && st.CurrentNumberScheduled == int32(n) && st.NumberReady == int32(n) &&
					st.NumberAvailable == int32(n) && st.UpdatedNumberScheduled == int32(n) && st.ObservedGeneration == got.Generation,
				fmt.Errorf("status %+v", st)
		})
	}
	onePerNode(len(nodes.Items))

	addNode()
	workloadWaitNodes(t, s.Client, len(nodes.Items)+1)
	onePerNode(len(nodes.Items) + 1)

	// A rolling update replaces every daemon pod.
	s.MustKubectl(t, "-n", ns, "set", "image", "daemonset/agent", "app=agent:2")
	s.MustKubectl(t, "-n", ns, "rollout", "status", "daemonset/agent", "--timeout=90s")
	workloadWaitImage(t, s.Client, ns, "agent", len(nodes.Items)+1, "agent:2")
}
