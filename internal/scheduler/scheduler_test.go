package scheduler

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// testCluster runs a scheduler against a fake clientset whose binding
// subresource sets spec.nodeName, as the API server does.
type testCluster struct {
	t        *testing.T
	client   *fake.Clientset
	recorder *record.FakeRecorder
	sched    *Scheduler
	events   []string
	mu       sync.Mutex
}

func startTestCluster(t *testing.T, nodes ...*v1.Node) *testCluster {
	t.Helper()
	var objs []runtime.Object
	for _, n := range nodes {
		objs = append(objs, n)
	}
	c := &testCluster{t: t, client: fake.NewSimpleClientset(objs...), recorder: record.NewFakeRecorder(1000)}
	c.client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := action.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		obj, err := c.client.Tracker().Get(v1.SchemeGroupVersion.WithResource("pods"), b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*v1.Pod).DeepCopy()
		if pod.Spec.NodeName != "" {
			return true, nil, fmt.Errorf("pod %s is already assigned to node %q", pod.Name, pod.Spec.NodeName)
		}
		pod.Spec.NodeName = b.Target.Name
		return true, b, c.client.Tracker().Update(v1.SchemeGroupVersion.WithResource("pods"), pod, pod.Namespace)
	})
	factory := informers.NewSharedInformerFactory(c.client, 0)
	s := New(c.client, factory, Options{Recorder: c.recorder, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	c.sched = s
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	go func() {
		for e := range c.recorder.Events {
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	return c
}

func (c *testCluster) create(pods ...*v1.Pod) {
	c.t.Helper()
	for _, p := range pods {
		if _, err := c.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			c.t.Fatalf("create pod %s: %v", p.Name, err)
		}
	}
}

func (c *testCluster) pod(name string) *v1.Pod {
	c.t.Helper()
	p, err := c.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatalf("get pod %s: %v", name, err)
	}
	return p
}

// waitFor polls cond for up to 5 seconds.
func (c *testCluster) waitFor(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *testCluster) nodeOf(name string) string { return c.pod(name).Spec.NodeName }

func (c *testCluster) hasEvent(substr string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.events {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

func scheduledCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodScheduled {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func TestSchedulerResourceFit(t *testing.T) {
	c := startTestCluster(t, testNode("n1", "2", "4Gi", 110, nil), testNode("n2", "2", "4Gi", 110, nil), testNode("n3", "2", "4Gi", 110, nil))
	for i := 0; i < 6; i++ {
		c.create(testPod(fmt.Sprintf("p%d", i), withRequests("1", "")))
	}
	perNode := map[string]int{}
	c.waitFor("6 pods bound", func() bool {
		clear(perNode)
		for i := 0; i < 6; i++ {
			if n := c.nodeOf(fmt.Sprintf("p%d", i)); n != "" {
				perNode[n]++
			}
		}
		return perNode["n1"]+perNode["n2"]+perNode["n3"] == 6
	})
	if perNode["n1"] != 2 || perNode["n2"] != 2 || perNode["n3"] != 2 {
		t.Errorf("placement = %v, want 2 per node", perNode)
	}
	c.waitFor("Scheduled event", func() bool { return c.hasEvent("Normal Scheduled Successfully assigned default/p0 to n") })
	// Every assumption was confirmed by the informer.
	c.waitFor("assumptions confirmed", func() bool {
		nodes, pods, assumed := c.sched.cache.counts()
		return nodes == 3 && pods == 6 && assumed == 0
	})

	c.create(testPod("p6", withRequests("1", "")))
	// Upstream's wording, including DefaultPreemption's note (and its double period).
	const want = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
	c.waitFor("PodScheduled=False", func() bool {
		cond := scheduledCondition(c.pod("p6"))
		return cond != nil && cond.Status == v1.ConditionFalse
	})
	cond := scheduledCondition(c.pod("p6"))
	if cond.Reason != v1.PodReasonUnschedulable || cond.Message != want {
		t.Errorf("condition = %s %q, want Unschedulable %q", cond.Reason, cond.Message, want)
	}
	c.waitFor("FailedScheduling event", func() bool { return c.hasEvent("Warning FailedScheduling " + want) })

	// Freeing capacity schedules it.
	if err := c.client.CoreV1().Pods("default").Delete(context.Background(), "p0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor("p6 bound after p0 deleted", func() bool { return c.nodeOf("p6") != "" })
}

func TestSchedulerPlacements(t *testing.T) {
	gpu := v1.Taint{Key: "gpu", Value: "true", Effect: v1.TaintEffectNoSchedule}
	c := startTestCluster(t,
		testNode("a", "4", "8Gi", 110, map[string]string{"disk": "ssd"}),
		testNode("b", "4", "8Gi", 110, map[string]string{"disk": "hdd"}),
		testNode("g", "4", "8Gi", 110, nil, gpu),
	)
	web := map[string]string{"app": "web"}
	c.create(
		testPod("ssd", withRequests("100m", "")),
		testPod("tolerant", withTolerations(v1.Toleration{Key: "gpu", Operator: v1.TolerationOpExists}), withAffinity(&v1.Affinity{
			NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{
				MatchExpressions: []v1.NodeSelectorRequirement{{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{"g"}}},
			}}}},
		})),
		testPod("other-scheduler", func(p *v1.Pod) { p.Spec.SchedulerName = "custom" }),
		testPod("gated", func(p *v1.Pod) { p.Spec.SchedulingGates = []v1.PodSchedulingGate{{Name: "example.com/wait"}} }),
	)
	ssd := c.pod("ssd")
	ssd.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	// Recreate with a selector (the first create had none, to test updates).
	_ = c.client.CoreV1().Pods("default").Delete(context.Background(), "ssd", metav1.DeleteOptions{})
	c.create(testPod("ssd2", func(p *v1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }))
	for i := 0; i < 3; i++ {
		c.create(testPod(fmt.Sprintf("web%d", i), withLabels(web), withAffinity(podAffinity(true, true, v1.LabelHostname, selector("app", "web")))))
	}
	c.waitFor("placements", func() bool {
		return c.nodeOf("ssd2") != "" && c.nodeOf("tolerant") != "" && c.nodeOf("web0") != "" && c.nodeOf("web1") != ""
	})
	if n := c.nodeOf("ssd2"); n != "a" {
		t.Errorf("nodeSelector disk=ssd placed on %s", n)
	}
	if n := c.nodeOf("tolerant"); n != "g" {
		t.Errorf("tolerating pod placed on %s", n)
	}
	w0, w1 := c.nodeOf("web0"), c.nodeOf("web1")
	if w0 == w1 || w0 == "g" || w1 == "g" {
		t.Errorf("anti-affine web pods on %s and %s", w0, w1)
	}
	// The third web pod has nowhere to go: a and b hold one each, g is tainted.
	c.waitFor("web2 unschedulable", func() bool {
		cond := scheduledCondition(c.pod("web2"))
		return cond != nil && cond.Status == v1.ConditionFalse
	})
	const want = "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, 2 node(s) didn't match pod anti-affinity rules." +
		" preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.."
	if got := scheduledCondition(c.pod("web2")).Message; got != want {
		t.Errorf("message = %q\nwant      %q", got, want)
	}
	time.Sleep(50 * time.Millisecond)
	if n := c.nodeOf("other-scheduler"); n != "" {
		t.Errorf("pod for another scheduler was bound to %s", n)
	}
	if n := c.nodeOf("gated"); n != "" {
		t.Errorf("gated pod was bound to %s", n)
	}
	// Removing the gate lets it be scheduled.
	gated := c.pod("gated")
	gated.Spec.SchedulingGates = nil
	if _, err := c.client.CoreV1().Pods("default").Update(context.Background(), gated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor("ungated pod bound", func() bool { return c.nodeOf("gated") != "" })
}

func TestSchedulerNoNodes(t *testing.T) {
	c := startTestCluster(t)
	c.create(testPod("p"))
	c.waitFor("condition", func() bool {
		cond := scheduledCondition(c.pod("p"))
		return cond != nil && cond.Message == "no nodes available to schedule pods"
	})
	if _, err := c.client.CoreV1().Nodes().Create(context.Background(), testNode("late", "1", "1Gi", 10, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitFor("bound to the node added later", func() bool { return c.nodeOf("p") == "late" })
}

func TestSchedulerPreemption(t *testing.T) {
	c := startTestCluster(t, testNode("n1", "2", "4Gi", 110, nil), testNode("n2", "2", "4Gi", 110, nil))
	// Fill both nodes: n1 with priority 0 pods, n2 with priority 10 pods.
	c.create(
		testPod("low-a", withRequests("1", ""), withPriority(0), withNode("n1")),
		testPod("low-b", withRequests("1", ""), withPriority(0), withNode("n1")),
		testPod("mid-a", withRequests("1", ""), withPriority(10), withNode("n2")),
		testPod("mid-b", withRequests("1", ""), withPriority(10), withNode("n2")),
	)
	never := v1.PreemptNever
	c.create(testPod("polite", withRequests("1", ""), withPriority(100), func(p *v1.Pod) { p.Spec.PreemptionPolicy = &never }))
	c.waitFor("polite pod unschedulable", func() bool {
		cond := scheduledCondition(c.pod("polite"))
		return cond != nil && cond.Status == v1.ConditionFalse
	})
	if got, want := scheduledCondition(c.pod("polite")).Message, "0/2 nodes are available: 2 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.."; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}

	c.create(testPod("urgent", withRequests("1", ""), withPriority(100)))
	// The cheapest victim is one priority-0 pod on n1.
	c.waitFor("a victim deleted", func() bool {
		pods, _ := c.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
		return len(pods.Items) == 5
	})
	if _, err := c.client.CoreV1().Pods("default").Get(context.Background(), "mid-a", metav1.GetOptions{}); err != nil {
		t.Error("a priority-10 pod was preempted instead of a priority-0 one")
	}
	c.waitFor("urgent bound to n1", func() bool { return c.nodeOf("urgent") == "n1" })
	c.waitFor("Preempted event", func() bool { return c.hasEvent("Normal Preempted Preempted by pod uid-urgent on node n1") })
	if n := c.nodeOf("polite"); n != "" {
		t.Errorf("polite pod bound to %s", n)
	}
}
