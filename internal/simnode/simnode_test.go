package simnode

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newTestFleet(t *testing.T, opts Options, objs ...runtime.Object) (*fleet, *fake.Clientset, *testingclock.FakeClock) {
	t.Helper()
	client := fake.NewSimpleClientset(objs...)
	clk := testingclock.NewFakeClock(t0)
	f, err := newFleet(client, opts, clk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.registerAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, client, clk
}

func condition(conds []v1.NodeCondition, t v1.NodeConditionType) v1.ConditionStatus {
	for _, c := range conds {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestRegister(t *testing.T) {
	f, client, _ := newTestFleet(t, Options{Count: 3, CPU: "2", Labels: map[string]string{"zone": "a"}})
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 3 {
		t.Fatalf("nodes: %v, %v", len(nodes.Items), err)
	}
	n, err := client.CoreV1().Nodes().Get(ctx, "sim-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{v1.LabelHostname: "sim-1", v1.LabelOSStable: "linux", "type": "simulated", "zone": "a"} {
		if n.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], want)
		}
	}
	if got := n.Status.Allocatable.Cpu().String(); got != "2" {
		t.Errorf("allocatable cpu = %s", got)
	}
	if got := n.Status.Capacity[v1.ResourcePods]; got.Cmp(resource.MustParse("110")) != 0 {
		t.Errorf("pods capacity = %s", got.String())
	}
	if condition(n.Status.Conditions, v1.NodeReady) != v1.ConditionTrue || condition(n.Status.Conditions, v1.NodeMemoryPressure) != v1.ConditionFalse {
		t.Errorf("conditions = %v", n.Status.Conditions)
	}
	if n.Status.NodeInfo.KubeletVersion != "v1.37.2-skiff" {
		t.Errorf("kubeletVersion = %q", n.Status.NodeInfo.KubeletVersion)
	}
	if len(n.Status.Addresses) != 2 || n.Status.Addresses[0].Type != v1.NodeInternalIP || !strings.HasPrefix(n.Status.Addresses[0].Address, "172.") {
		t.Errorf("addresses = %v", n.Status.Addresses)
	}
	lease, err := client.CoordinationV1().Leases(v1.NamespaceNodeLease).Get(ctx, "sim-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "sim-1" || !lease.Spec.RenewTime.Time.Equal(t0) || *lease.Spec.LeaseDurationSeconds != 40 {
		t.Errorf("lease spec = %+v", lease.Spec)
	}
	if len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].Kind != "Node" || lease.OwnerReferences[0].Name != "sim-1" {
		t.Errorf("lease owner = %v", lease.OwnerReferences)
	}
	if f.nodes["sim-0"].ip == f.nodes["sim-1"].ip {
		t.Error("two nodes share an IP")
	}
}

func TestRegisterTakesOverExistingNode(t *testing.T) {
	old := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "sim-0", UID: "old-uid", Labels: map[string]string{"keep": "me"}},
		Status:     v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionUnknown}}},
	}
	_, client, _ := newTestFleet(t, Options{Count: 1}, old)
	n, err := client.CoreV1().Nodes().Get(context.Background(), "sim-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels["keep"] != "me" || n.Labels["type"] != "simulated" {
		t.Errorf("labels = %v", n.Labels)
	}
	if condition(n.Status.Conditions, v1.NodeReady) != v1.ConditionTrue {
		t.Errorf("Ready = %s, want True", condition(n.Status.Conditions, v1.NodeReady))
	}
}

func TestInvalidOptions(t *testing.T) {
	for _, o := range []Options{{}, {Count: 1, CPU: "lots"}, {Count: 1, PodIPCIDR: "fd00::/64"}} {
		if _, err := newFleet(fake.NewSimpleClientset(), o, testingclock.NewFakeClock(t0)); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	f, client, clk := newTestFleet(t, Options{Count: 2})
	ctx := context.Background()
	n := f.nodes["sim-0"]

	clk.Step(10 * time.Second)
	if err := f.heartbeat(ctx, n); err != nil {
		t.Fatal(err)
	}
	lease, _ := client.CoordinationV1().Leases(v1.NamespaceNodeLease).Get(ctx, "sim-0", metav1.GetOptions{})
	if !lease.Spec.RenewTime.Time.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("renewTime = %v, want t0+10s", lease.Spec.RenewTime)
	}

	// The node lifecycle controller marked the node Unknown: the next
	// heartbeat posts Ready=True again.
	node, _ := client.CoreV1().Nodes().Get(ctx, "sim-0", metav1.GetOptions{})
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == v1.NodeReady {
			node.Status.Conditions[i].Status = v1.ConditionUnknown
		}
	}
	node, _ = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	f.observeNode(node)
	clk.Step(10 * time.Second)
	if err := f.heartbeat(ctx, n); err != nil {
		t.Fatal(err)
	}
	node, _ = client.CoreV1().Nodes().Get(ctx, "sim-0", metav1.GetOptions{})
	if condition(node.Status.Conditions, v1.NodeReady) != v1.ConditionTrue {
		t.Error("Ready not restored")
	}

	// A lease deleted behind our back is recreated.
	_ = client.CoordinationV1().Leases(v1.NamespaceNodeLease).Delete(ctx, "sim-0", metav1.DeleteOptions{})
	clk.Step(10 * time.Second)
	if err := f.heartbeat(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoordinationV1().Leases(v1.NamespaceNodeLease).Get(ctx, "sim-0", metav1.GetOptions{}); err != nil {
		t.Errorf("lease not recreated: %v", err)
	}

	// A deleted node gets no more heartbeats.
	f.forgetNode(node)
	clk.Step(10 * time.Second)
	if err := f.heartbeat(ctx, n); err != nil {
		t.Fatal(err)
	}
	lease, _ = client.CoordinationV1().Leases(v1.NamespaceNodeLease).Get(ctx, "sim-0", metav1.GetOptions{})
	if !lease.Spec.RenewTime.Time.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("deleted node's lease renewed: %v", lease.Spec.RenewTime)
	}
}

func TestHeartbeatSlots(t *testing.T) {
	for _, tt := range []struct {
		count    int
		interval time.Duration
		want     int
	}{{1, 10 * time.Second, 1}, {500, 10 * time.Second, 500}, {5000, 10 * time.Second, 1000}, {10, time.Millisecond, 1}} {
		if got := heartbeatSlots(tt.count, tt.interval); got != tt.want {
			t.Errorf("heartbeatSlots(%d, %v) = %d, want %d", tt.count, tt.interval, got, tt.want)
		}
	}
}

func testPod(name string, mutate ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{
			NodeName:      "sim-0",
			RestartPolicy: v1.RestartPolicyAlways,
			Containers:    []v1.Container{{Name: "app", Image: "nginx"}},
		},
		Status: v1.PodStatus{Phase: v1.PodPending},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func ownedByJob(p *v1.Pod) {
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "j", UID: "job-uid"}}
	p.Spec.RestartPolicy = v1.RestartPolicyNever
}

func annotate(k, v string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
}

// step syncs the pod after copying the client's version into the lister.
func step(t *testing.T, f *fleet, client *fake.Clientset, name string) (*v1.Pod, time.Duration) {
	t.Helper()
	ctx := context.Background()
	idx := f.podFactory.Core().V1().Pods().Informer().GetIndexer()
	cur, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.Update(cur); err != nil {
		t.Fatal(err)
	}
	after, err := f.syncPod(ctx, "default/"+name)
	if err != nil {
		t.Fatalf("syncPod: %v", err)
	}
	got, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, after
	}
	return got, after
}

func TestPodLifecycle(t *testing.T) {
	tests := []struct {
		name       string
		pod        *v1.Pod
		wantAfter  time.Duration
		finalPhase v1.PodPhase // after the run duration passed; "" = stays Running
		exitCode   int32
		reason     string
	}{
		{name: "deployment pod runs forever", pod: testPod("web", func(p *v1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "rs"}}
		})},
		{name: "job pod succeeds", pod: testPod("job", ownedByJob), wantAfter: time.Second, finalPhase: v1.PodSucceeded, reason: "Completed"},
		{name: "restartPolicy Never terminates", pod: testPod("once", func(p *v1.Pod) { p.Spec.RestartPolicy = v1.RestartPolicyNever }),
			wantAfter: time.Second, finalPhase: v1.PodSucceeded, reason: "Completed"},
		{name: "exit code annotation fails it", pod: testPod("bad", ownedByJob, annotate(AnnotationExitCode, "1")),
			wantAfter: time.Second, finalPhase: v1.PodFailed, exitCode: 1, reason: "Error"},
		{name: "duration annotation", pod: testPod("slow", ownedByJob, annotate(AnnotationDuration, "5s")),
			wantAfter: 5 * time.Second, finalPhase: v1.PodSucceeded, reason: "Completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, client, clk := newTestFleet(t, Options{Count: 1}, tt.pod)
			pod, after := step(t, f, client, tt.pod.Name)
			if pod.Status.Phase != v1.PodRunning {
				t.Fatalf("phase = %s, want Running", pod.Status.Phase)
			}
			if after != tt.wantAfter {
				t.Errorf("requeue after %v, want %v", after, tt.wantAfter)
			}
			ip, err := netip.ParseAddr(pod.Status.PodIP)
			if err != nil || !netip.MustParsePrefix("100.64.0.0/10").Contains(ip) {
				t.Errorf("podIP = %q", pod.Status.PodIP)
			}
			if pod.Status.HostIP != f.nodes["sim-0"].ip || pod.Status.StartTime == nil {
				t.Errorf("hostIP = %q, startTime = %v", pod.Status.HostIP, pod.Status.StartTime)
			}
			for _, c := range []v1.PodConditionType{v1.PodScheduled, v1.PodInitialized, v1.ContainersReady, v1.PodReady} {
				if podCondition(pod, c) != v1.ConditionTrue {
					t.Errorf("condition %s = %q", c, podCondition(pod, c))
				}
			}
			cs := pod.Status.ContainerStatuses
			if len(cs) != 1 || !cs[0].Ready || cs[0].Started == nil || !*cs[0].Started || cs[0].State.Running == nil || cs[0].RestartCount != 0 {
				t.Errorf("container status = %+v", cs)
			}
			if tt.finalPhase == "" {
				return
			}
			clk.Step(tt.wantAfter)
			pod, after = step(t, f, client, tt.pod.Name)
			if pod.Status.Phase != tt.finalPhase || after != 0 {
				t.Fatalf("phase = %s (after %v), want %s", pod.Status.Phase, after, tt.finalPhase)
			}
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if term == nil || term.ExitCode != tt.exitCode || term.Reason != tt.reason {
				t.Errorf("terminated = %+v, want exit %d reason %s", term, tt.exitCode, tt.reason)
			}
			if podCondition(pod, v1.PodReady) != v1.ConditionFalse {
				t.Errorf("Ready = %s after finishing", podCondition(pod, v1.PodReady))
			}
		})
	}
}

func podCondition(p *v1.Pod, t v1.PodConditionType) v1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

func TestPodEarlyRequeueWaitsRemainder(t *testing.T) {
	f, client, clk := newTestFleet(t, Options{Count: 1, JobPodDuration: 3 * time.Second}, testPod("job", ownedByJob))
	step(t, f, client, "job")
	clk.Step(time.Second)
	pod, after := step(t, f, client, "job")
	if pod.Status.Phase != v1.PodRunning || after != 2*time.Second {
		t.Errorf("phase %s, requeue after %v; want Running, 2s", pod.Status.Phase, after)
	}
}

func TestPodDeletion(t *testing.T) {
	now := metav1.NewTime(t0)
	deleting := testPod("gone", func(p *v1.Pod) {
		p.DeletionTimestamp = &now
		p.Status.Phase = v1.PodRunning
	})
	f, client, _ := newTestFleet(t, Options{Count: 1}, deleting)
	if pod, _ := step(t, f, client, "gone"); pod != nil {
		t.Errorf("pod still exists: %+v", pod.ObjectMeta)
	}
	var sawDelete bool
	for _, a := range client.Actions() {
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			sawDelete = true
		}
	}
	if !sawDelete {
		t.Error("no delete call")
	}
}

func TestPodOnForeignNodeIgnored(t *testing.T) {
	f, client, _ := newTestFleet(t, Options{Count: 1}, testPod("other", func(p *v1.Pod) { p.Spec.NodeName = "real-node" }))
	pod, _ := step(t, f, client, "other")
	if pod.Status.Phase != v1.PodPending {
		t.Errorf("phase = %s", pod.Status.Phase)
	}
}

func TestIPAM(t *testing.T) {
	a := newIPAM(netip.MustParsePrefix("10.9.0.0/30")) // two usable addresses
	ip1 := a.allocate("ns/a", "")
	ip2 := a.allocate("ns/b", "")
	if ip1 != "10.9.0.1" || ip2 != "10.9.0.2" {
		t.Fatalf("got %s %s", ip1, ip2)
	}
	if again := a.allocate("ns/a", ""); again != ip1 {
		t.Errorf("second allocate for same pod = %s", again)
	}
	if ip := a.allocate("ns/c", ""); ip != "" {
		t.Errorf("exhausted pool gave %s", ip)
	}
	a.release("ns/a")
	if ip := a.allocate("ns/c", ""); ip != ip1 {
		t.Errorf("freed IP not reused: %s", ip)
	}
	// A node's podCIDR takes precedence; .1 is left for the gateway.
	if ip := a.allocate("ns/d", "10.244.3.0/24"); ip != "10.244.3.2" {
		t.Errorf("node CIDR IP = %s", ip)
	}
	// Reserving an IP a running pod already has keeps it from others.
	a.reserve("ns/e", "10.244.3.0/24", "10.244.3.3")
	if ip := a.allocate("ns/f", "10.244.3.0/24"); ip != "10.244.3.4" {
		t.Errorf("after reserve got %s", ip)
	}
}

func TestRunEndToEnd(t *testing.T) {
	client := fake.NewSimpleClientset()
	f, err := newFleet(client, Options{Count: 3, HeartbeatInterval: 100 * time.Millisecond, JobPodDuration: 200 * time.Millisecond}, clock.RealClock{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor(t, "nodes registered", func() bool {
		l, _ := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return len(l.Items) == 3
	})
	first, _ := client.CoordinationV1().Leases(v1.NamespaceNodeLease).Get(ctx, "sim-2", metav1.GetOptions{})
	waitFor(t, "lease renewed", func() bool {
		l, err := client.CoordinationV1().Leases(v1.NamespaceNodeLease).Get(ctx, "sim-2", metav1.GetOptions{})
		return err == nil && first != nil && l.Spec.RenewTime.After(first.Spec.RenewTime.Time)
	})
	for _, p := range []*v1.Pod{testPod("web"), testPod("job", ownedByJob)} {
		p.Spec.NodeName = "sim-1"
		if _, err := client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "web Running, job Succeeded", func() bool {
		web, _ := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		job, _ := client.CoreV1().Pods("default").Get(ctx, "job", metav1.GetOptions{})
		return web.Status.Phase == v1.PodRunning && job.Status.Phase == v1.PodSucceeded
	})
	// Deleting (the API server would set deletionTimestamp) removes it.
	web, _ := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
	now := metav1.Now()
	web.DeletionTimestamp = &now
	if _, err := client.CoreV1().Pods("default").Update(ctx, web, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web deleted", func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "web", metav1.GetOptions{})
		return err != nil
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
