package simnode

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// LabelType marks simulated nodes (type=simulated).
const LabelType = "type"

func (f *fleet) nodeLabels(n *simNode) map[string]string {
	l := map[string]string{
		v1.LabelHostname:   n.name,
		v1.LabelOSStable:   "linux",
		v1.LabelArchStable: runtime.GOARCH,
		LabelType:          "simulated",
	}
	for k, v := range f.opts.Labels {
		l[k] = v
	}
	return l
}

// nodeObject is the Node a simulated node registers.
func (f *fleet) nodeObject(n *simNode) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   n.name,
			Labels: f.nodeLabels(n),
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl": "0",
			},
		},
		Status: f.nodeStatus(n, nil),
	}
}

// nodeStatus is the status a healthy simulated node reports; transition
// times of conditions whose status did not change are kept from old.
func (f *fleet) nodeStatus(n *simNode, old *v1.NodeStatus) v1.NodeStatus {
	now := metav1.NewTime(f.clock.Now())
	cond := func(t v1.NodeConditionType, s v1.ConditionStatus, reason, msg string) v1.NodeCondition {
		c := v1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		if old != nil {
			for _, oc := range old.Conditions {
				if oc.Type == t && oc.Status == s {
					c.LastTransitionTime = oc.LastTransitionTime
				}
			}
		}
		return c
	}
	return v1.NodeStatus{
		Capacity:    f.capacity.DeepCopy(),
		Allocatable: f.capacity.DeepCopy(),
		Phase:       v1.NodeRunning,
		Conditions: []v1.NodeCondition{
			cond(v1.NodeMemoryPressure, v1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(v1.NodeDiskPressure, v1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(v1.NodePIDPressure, v1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(v1.NodeReady, v1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
		},
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: n.ip},
			{Type: v1.NodeHostName, Address: n.name},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: 10250}},
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               fmt.Sprintf("%032x", n.index+1),
			SystemUUID:              fmt.Sprintf("00000000-0000-0000-0000-%012x", n.index+1),
			BootID:                  fmt.Sprintf("simulated-%d", n.index),
			KernelVersion:           "simulated",
			OSImage:                 "skiff simulated node",
			ContainerRuntimeVersion: "simulated://" + KubeletVersion,
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
		},
	}
}

// registerAll registers every node (and its Lease) with bounded concurrency.
func (f *fleet) registerAll(ctx context.Context) error {
	work := make(chan *simNode)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	workers := min(registerWorkers, len(f.order))
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := f.register(ctx, n); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range f.order {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		work <- n
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// register creates the node, or takes over an existing one, and its Lease.
func (f *fleet) register(ctx context.Context, n *simNode) error {
	nodes := f.client.CoreV1().Nodes()
	created, err := nodes.Create(ctx, f.nodeObject(n), metav1.CreateOptions{})
	switch {
	case err == nil:
		// Some servers reset status on create; post it if it did not stick.
		if len(created.Status.Conditions) == 0 || len(created.Status.Allocatable) == 0 {
			created.Status = f.nodeStatus(n, nil)
			if created, err = nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("simnode: post status of node %s: %w", n.name, err)
			}
		}
	case apierrors.IsAlreadyExists(err):
		if created, err = f.takeOver(ctx, n); err != nil {
			return err
		}
	default:
		return fmt.Errorf("simnode: create node %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.registered = true
	n.uid = string(created.UID)
	n.podCIDR = created.Spec.PodCIDR
	n.lastStatus = f.clock.Now()
	n.mu.Unlock()
	return f.ensureLease(ctx, n, created.UID)
}

// takeOver adopts a node left by an earlier run: our labels win, the
// status is rewritten as healthy.
func (f *fleet) takeOver(ctx context.Context, n *simNode) (*v1.Node, error) {
	nodes := f.client.CoreV1().Nodes()
	for attempt := 0; ; attempt++ {
		cur, err := nodes.Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("simnode: get node %s: %w", n.name, err)
		}
		if cur.Labels == nil {
			cur.Labels = map[string]string{}
		}
		changed := false
		for k, v := range f.nodeLabels(n) {
			if cur.Labels[k] != v {
				cur.Labels[k] = v
				changed = true
			}
		}
		if changed {
			if cur, err = nodes.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) && attempt < 5 {
					continue
				}
				return nil, fmt.Errorf("simnode: update node %s: %w", n.name, err)
			}
		}
		cur.Status = f.nodeStatus(n, &cur.Status)
		updated, err := nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			if apierrors.IsConflict(err) && attempt < 5 {
				continue
			}
			return nil, fmt.Errorf("simnode: post status of node %s: %w", n.name, err)
		}
		return updated, nil
	}
}

// postStatus rewrites a node's status (periodically, or after someone else
// changed its Ready condition).
func (f *fleet) postStatus(ctx context.Context, n *simNode) error {
	nodes := f.client.CoreV1().Nodes()
	for attempt := 0; ; attempt++ {
		cur, err := nodes.Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				f.markDeleted(n)
				return nil
			}
			return fmt.Errorf("simnode: get node %s: %w", n.name, err)
		}
		cur.Status = f.nodeStatus(n, &cur.Status)
		if _, err = nodes.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsConflict(err) && attempt < 3 {
				continue
			}
			return fmt.Errorf("simnode: post status of node %s: %w", n.name, err)
		}
		n.mu.Lock()
		n.lastStatus = f.clock.Now()
		n.statusStale = false
		n.podCIDR = cur.Spec.PodCIDR
		n.mu.Unlock()
		return nil
	}
}

func (f *fleet) markDeleted(n *simNode) {
	n.mu.Lock()
	n.deleted = true
	n.mu.Unlock()
}

// observeNode notes, from the node informer, a pod CIDR allocated by the
// server and whether our Ready condition was overwritten.
func (f *fleet) observeNode(obj any) {
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	n := f.nodes[node.Name]
	if n == nil {
		return
	}
	ready := false
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
			ready = true
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.uid != "" && n.uid != string(node.UID) {
		return // an older incarnation
	}
	n.podCIDR = node.Spec.PodCIDR
	n.deleted = false
	if !ready {
		n.statusStale = true
	}
}

// forgetNode stops serving a node someone deleted; a kubelet would not
// re-register it either until restarted.
func (f *fleet) forgetNode(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	if n := f.nodes[node.Name]; n != nil {
		n.mu.Lock()
		if n.uid == "" || n.uid == string(node.UID) {
			n.deleted = true
		}
		n.mu.Unlock()
	}
}

func nodeOwnerRef(name string, uid types.UID) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: name, UID: uid}
}

func logError(ctx context.Context, err error, msg string, kv ...any) {
	klog.FromContext(ctx).Error(err, msg, kv...)
}
