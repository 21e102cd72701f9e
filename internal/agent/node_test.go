package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func testAgent(t *testing.T) *Agent {
	t.Helper()
	opts := Options{NodeName: "n1", NodeIP: "192.168.0.5", DataDir: t.TempDir(), Labels: map[string]string{"tier": "edge"}}
	if err := opts.setDefaults(); err != nil {
		t.Fatal(err)
	}
	a := &Agent{opts: opts, log: slog.Default(), hostname: "host-1", statusKick: make(chan struct{}, 1), client: fake.NewClientset()}
	a.machine = readMachine(opts.DataDir, "containerd://1.6.20")
	return a
}

func TestNodeObject(t *testing.T) {
	a := testAgent(t)
	node := a.nodeObject()
	if node.Labels["kubernetes.io/hostname"] != "n1" || node.Labels["tier"] != "edge" || node.Labels["kubernetes.io/os"] != "linux" {
		t.Errorf("labels %v", node.Labels)
	}
	st := node.Status
	if pods := st.Capacity[v1.ResourcePods]; pods.Value() != MaxPods {
		t.Errorf("pods capacity %v", pods)
	}
	for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage} {
		if q := st.Allocatable[r]; q.IsZero() {
			t.Errorf("allocatable %s is zero", r)
		}
	}
	if st.NodeInfo.KubeletVersion != KubeletVersion || st.NodeInfo.ContainerRuntimeVersion != "containerd://1.6.20" || st.NodeInfo.KernelVersion == "" {
		t.Errorf("node info %+v", st.NodeInfo)
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("daemon endpoint %+v", st.DaemonEndpoints)
	}
	if len(st.Addresses) != 2 || st.Addresses[0].Address != "192.168.0.5" || st.Addresses[1].Address != "host-1" {
		t.Errorf("addresses %+v", st.Addresses)
	}
	ready := func(s v1.NodeStatus) v1.ConditionStatus {
		for _, c := range s.Conditions {
			if c.Type == v1.NodeReady {
				return c.Status
			}
		}
		return ""
	}
	if ready(st) != v1.ConditionFalse {
		t.Error("a node without its pod network is not ready")
	}
	a.networkReady.Store(true)
	if ready(a.nodeStatus(node)) != v1.ConditionTrue {
		t.Error("a node with its network and runtime is ready")
	}
	a.runtimeDown.Store(true)
	if ready(a.nodeStatus(node)) != v1.ConditionFalse {
		t.Error("a node whose runtime is down is not ready")
	}
}

func TestRegisterAndHeartbeat(t *testing.T) {
	a := testAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	node, err := a.register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.NodeInfo.KubeletVersion != KubeletVersion {
		t.Errorf("registered status %+v", node.Status.NodeInfo)
	}
	// Registering again (an agent restart) updates labels, keeps the node.
	a.opts.Labels["tier"] = "core"
	if _, err := a.register(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := a.client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || got.Labels["tier"] != "core" {
		t.Fatalf("node after re-registration: %v %v", got.Labels, err)
	}

	hbCtx, stop := context.WithCancel(ctx)
	go heartbeat(hbCtx, a.client, node, a.log)
	deadline := time.Now().Add(5 * time.Second)
	for {
		lease, err := a.client.CoordinationV1().Leases(leaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
		if err == nil {
			if *lease.Spec.HolderIdentity != "n1" || lease.Spec.RenewTime == nil || *lease.Spec.LeaseDurationSeconds != 40 || lease.OwnerReferences[0].Name != "n1" {
				t.Errorf("lease %+v", lease.Spec)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lease: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
}

func TestWaitPodCIDR(t *testing.T) {
	a := testAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.register(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		n, _ := a.client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		n.Spec.PodCIDR = "10.42.3.0/24"
		_, _ = a.client.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	}()
	cidr, err := a.waitPodCIDR(ctx)
	if err != nil || cidr != "10.42.3.0/24" {
		t.Fatalf("pod CIDR %q, %v", cidr, err)
	}
}

func TestReadResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	_ = os.WriteFile(path, []byte("# comment\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch corp.example lab.example\noptions ndots:2 edns0\n"), 0o644)
	rc := readResolvConf(path)
	if len(rc.servers) != 2 || rc.servers[1] != "10.0.0.3" || len(rc.searches) != 2 || rc.options[0] != "ndots:2" {
		t.Errorf("resolv.conf %+v", rc)
	}
}

func TestSameStatusIgnoresHeartbeats(t *testing.T) {
	a := testAgent(t)
	s1 := a.nodeStatus(nil)
	time.Sleep(1100 * time.Millisecond)
	s2 := a.nodeStatus(&v1.Node{Status: s1})
	if !sameStatus(s1, s2) {
		t.Error("statuses differing only in heartbeat times must compare equal")
	}
	a.networkReady.Store(true)
	if sameStatus(s1, a.nodeStatus(nil)) {
		t.Error("a readiness change must be seen")
	}
}
