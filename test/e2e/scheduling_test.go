package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestScheduling checks the scheduler's placements on a real server with
// three simulated nodes of 2 CPUs: nodeSelector, taints and tolerations,
// pod anti-affinity, and resource fit with upstream's wording for pods
// that fit nowhere.
func TestScheduling(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server and simulated nodes")
	}
	s := framework.Start(t, framework.Options{})
	s.Simulate(t, "--simulate", "3", "--node-name-prefix", "sched-", "--cpu", "2", "--memory", "4Gi")
	schedWaitReadyNodes(t, s.Client, "sched-", 3)

	// Each subtest leaves the nodes as it found them; resource fit, which
	// fills every CPU, runs last.
	t.Run("NodeSelector", func(t *testing.T) { testSchedNodeSelector(t, s.Client) })
	t.Run("TaintsAndTolerations", func(t *testing.T) { testSchedTaints(t, s.Client) })
	t.Run("PodAntiAffinity", func(t *testing.T) { testSchedAntiAffinity(t, s.Client) })
	t.Run("ResourceFit", func(t *testing.T) { testSchedResourceFit(t, s.Client) })
}

const schedTimeout = 30 * time.Second

func schedWaitReadyNodes(t *testing.T, c kubernetes.Interface, prefix string, n int) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, fmt.Sprintf("%d ready %s nodes", n, prefix), func() (bool, error) {
		nodes, err := c.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, node := range nodes.Items {
			if !strings.HasPrefix(node.Name, prefix) {
				continue
			}
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		return ready == n, nil
	})
}

func schedNamespace(t *testing.T, c kubernetes.Interface, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

type schedPodOpt func(*corev1.Pod)

func schedCPU(q string) schedPodOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
	}
}

func schedCreatePod(t *testing.T, c kubernetes.Interface, ns, name string, opts ...schedPodOpt) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			Containers:                    []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sleep", "3600"}}},
			TerminationGracePeriodSeconds: new(int64),
		},
	}
	for _, o := range opts {
		o(p)
	}
	if _, err := c.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
}

// schedWaitNode waits until the pod is bound and returns its node.
func schedWaitNode(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	var node string
	framework.Eventually(t, schedTimeout, "pod "+name+" bound", func() (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	return node
}

// schedWaitUnschedulable waits for PodScheduled=False/Unschedulable and
// checks the message starts with want (upstream may append a preemption note).
func schedWaitUnschedulable(t *testing.T, c kubernetes.Interface, ns, name, want string) {
	t.Helper()
	var got string
	framework.Eventually(t, schedTimeout, "pod "+name+" unschedulable with "+want, func() (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if p.Spec.NodeName != "" {
			return false, fmt.Errorf("pod was bound to %s", p.Spec.NodeName)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
				got = cond.Message
				return strings.HasPrefix(got, want), fmt.Errorf("message %q", got)
			}
		}
		return false, nil
	})
}

func schedDeletePods(t *testing.T, c kubernetes.Interface, ns string, names ...string) {
	t.Helper()
	for _, name := range names {
		if err := c.CoreV1().Pods(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete pod %s: %v", name, err)
		}
	}
	framework.Eventually(t, schedTimeout, "pods deleted", func() (bool, error) {
		for _, name := range names {
			if _, err := c.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{}); err == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

func schedUpdateNode(t *testing.T, c kubernetes.Interface, name string, mutate func(*corev1.Node)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := c.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		mutate(n)
		_, err = c.CoreV1().Nodes().Update(context.Background(), n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("update node %s: %v", name, err)
	}
}

func testSchedNodeSelector(t *testing.T, c kubernetes.Interface) {
	ns := schedNamespace(t, c, "sched-selector")
	schedUpdateNode(t, c, "sched-1", func(n *corev1.Node) { n.Labels["disk"] = "ssd" })
	t.Cleanup(func() { schedUpdateNode(t, c, "sched-1", func(n *corev1.Node) { delete(n.Labels, "disk") }) })

	schedCreatePod(t, c, ns, "ssd", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
	if node := schedWaitNode(t, c, ns, "ssd"); node != "sched-1" {
		t.Errorf("pod with nodeSelector disk=ssd is on %s, want sched-1", node)
	}

	schedCreatePod(t, c, ns, "nvme", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "nvme"} })
	schedWaitUnschedulable(t, c, ns, "nvme", "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.")
	// Labelling a node makes it fit: the node update requeues the pod.
	schedUpdateNode(t, c, "sched-2", func(n *corev1.Node) { n.Labels["disk"] = "nvme" })
	t.Cleanup(func() { schedUpdateNode(t, c, "sched-2", func(n *corev1.Node) { delete(n.Labels, "disk") }) })
	if node := schedWaitNode(t, c, ns, "nvme"); node != "sched-2" {
		t.Errorf("pod with nodeSelector disk=nvme is on %s, want sched-2", node)
	}
	schedDeletePods(t, c, ns, "ssd", "nvme")
}

func testSchedTaints(t *testing.T, c kubernetes.Interface) {
	ns := schedNamespace(t, c, "sched-taints")
	taint := corev1.Taint{Key: "dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule}
	schedUpdateNode(t, c, "sched-0", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, taint) })
	t.Cleanup(func() {
		schedUpdateNode(t, c, "sched-0", func(n *corev1.Node) {
			var keep []corev1.Taint
			for _, tt := range n.Spec.Taints {
				if tt.Key != taint.Key {
					keep = append(keep, tt)
				}
			}
			n.Spec.Taints = keep
		})
	})
	onSched0 := func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: "sched-0"} }

	// A pod that fits only the tainted node stays unschedulable; its message also shows the
	// scheduler has seen the taint before the pods below are created.
	schedCreatePod(t, c, ns, "intolerant", onSched0)
	schedWaitUnschedulable(t, c, ns, "intolerant",
		"0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 node(s) didn't match Pod's node affinity/selector.")

	// Untolerating pods never land on the tainted node.
	var names []string
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("plain-%d", i)
		schedCreatePod(t, c, ns, name)
		names = append(names, name)
	}
	for _, name := range names {
		if node := schedWaitNode(t, c, ns, name); node == "sched-0" {
			t.Errorf("pod %s without toleration landed on tainted sched-0", name)
		}
	}

	schedCreatePod(t, c, ns, "tolerant", onSched0, func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "infra", Effect: corev1.TaintEffectNoSchedule}}
	})
	if node := schedWaitNode(t, c, ns, "tolerant"); node != "sched-0" {
		t.Errorf("tolerating pod is on %s, want sched-0", node)
	}
	schedDeletePods(t, c, ns, append(names, "tolerant", "intolerant")...)
}

func testSchedAntiAffinity(t *testing.T, c kubernetes.Interface) {
	ns := schedNamespace(t, c, "sched-anti")
	spread := func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "spread"}
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "spread"}},
				TopologyKey:   corev1.LabelHostname,
			}},
		}}
	}
	seen := map[string]string{}
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("spread-%d", i)
		schedCreatePod(t, c, ns, name, spread)
		node := schedWaitNode(t, c, ns, name)
		if other, dup := seen[node]; dup {
			t.Errorf("%s and %s share node %s despite anti-affinity", other, name, node)
		}
		seen[node] = name
	}
	schedCreatePod(t, c, ns, "spread-3", spread)
	schedWaitUnschedulable(t, c, ns, "spread-3", "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
	// Removing one replica frees its node for the fourth.
	schedDeletePods(t, c, ns, "spread-0")
	schedWaitNode(t, c, ns, "spread-3")
	schedDeletePods(t, c, ns, "spread-1", "spread-2", "spread-3")
}

func testSchedResourceFit(t *testing.T, c kubernetes.Interface) {
	ns := schedNamespace(t, c, "sched-fit")
	perNode := map[string]int{}
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("cpu-%d", i)
		schedCreatePod(t, c, ns, name, schedCPU("1"))
		perNode[schedWaitNode(t, c, ns, name)]++
	}
	for node, n := range perNode {
		if n != 2 {
			t.Errorf("node %s holds %d one-CPU pods, want 2 (placements %v)", node, n, perNode)
		}
	}
	const want = "0/3 nodes are available: 3 Insufficient cpu."
	schedCreatePod(t, c, ns, "cpu-6", schedCPU("1"))
	schedWaitUnschedulable(t, c, ns, "cpu-6", want)

	framework.Eventually(t, schedTimeout, "FailedScheduling event", func() (bool, error) {
		events, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "cpu-6" && e.Reason == "FailedScheduling" && e.Type == corev1.EventTypeWarning &&
				strings.HasPrefix(e.Message, want) {
				return true, nil
			}
		}
		return false, nil
	})

	// Freeing capacity schedules it.
	schedDeletePods(t, c, ns, "cpu-0")
	schedWaitNode(t, c, ns, "cpu-6")

	framework.Eventually(t, schedTimeout, "Scheduled event", func() (bool, error) {
		events, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "cpu-6" && e.Reason == "Scheduled" && e.Type == corev1.EventTypeNormal &&
				strings.HasPrefix(e.Message, "Successfully assigned "+ns+"/cpu-6 to sched-") {
				return true, nil
			}
		}
		return false, nil
	})
}
