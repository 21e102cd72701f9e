// Package nodelifecycle watches node heartbeats (Leases in kube-node-lease and the Ready
// condition's heartbeat) and reacts when a node goes silent, as upstream's node-lifecycle
// controller and taint-eviction controller do:
//
//   - a node not heard from for GracePeriod gets its Ready (and pressure) conditions set to
//     Unknown, reason NodeStatusUnknown;
//   - node conditions are mirrored as taints: Ready=Unknown → node.kubernetes.io/unreachable,
//     Ready=False → node.kubernetes.io/not-ready (both NoExecute and NoSchedule), pressure
//     conditions and spec.unschedulable → their NoSchedule taints; they go when the node recovers;
//   - pods on a node that is not Ready get their Ready condition set to False;
//   - pods on a node with NoExecute taints they do not tolerate are deleted, at once or after the
//     smallest tolerationSeconds of the tolerations that match, so their controllers recreate them
//     elsewhere.
package nodelifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const (
	// DefaultGracePeriod is how long a node may stay silent before it is considered lost.
	DefaultGracePeriod = 40 * time.Second
	// LeaseNamespace holds one Lease per node, renewed by its kubelet (or simulated node).
	LeaseNamespace = corev1.NamespaceNodeLease
	// podNodeIndex indexes pods by spec.nodeName; the name is private to this package so that it
	// cannot clash with indexers other components add to the shared pod informer.
	podNodeIndex = "nodelifecycle.skiff.sh/nodeName"

	reasonNodeStatusUnknown  = "NodeStatusUnknown"
	reasonNodeNeverUpdated   = "NodeStatusNeverUpdated"
	messageStoppedPosting    = "Kubelet stopped posting node status."
	messageNeverPosted       = "Kubelet never posted node status."
	reasonTaintEviction      = "TaintManagerEviction"
	reasonDeletionByTaintMgr = "DeletionByTaintManager"
)

// Options tunes the controller; zero fields take the defaults.
type Options struct {
	// GracePeriod is how long a node may go without renewing its Lease or posting status before
	// its conditions become Unknown (default 40 s).
	GracePeriod time.Duration
	// Clock is the time source for heartbeats, taints and evictions (default: real time).
	Clock clock.WithTicker
}

// Controller is the node lifecycle and taint eviction controller.
type Controller struct {
	client      kubernetes.Interface
	nodeLister  corelisters.NodeLister
	leaseLister coordinationlisters.LeaseLister
	podLister   corelisters.PodLister
	podIndexer  cache.Indexer
	synced      []cache.InformerSynced
	nodeQueue   workqueue.TypedRateLimitingInterface[string] // node names
	podQueue    workqueue.TypedRateLimitingInterface[string] // pod keys
	events      record.EventBroadcaster
	recorder    record.EventRecorder
	grace       time.Duration
	clock       clock.WithTicker

	mu     sync.Mutex
	health map[string]*nodeHealth
}

// nodeHealth is what the controller last saw of a node's heartbeats, and when it saw a change
// (by its own clock, so that skew between node and controller clocks does not matter).
type nodeHealth struct {
	probeTime      time.Time
	leaseRenew     time.Time
	readyHeartbeat time.Time
}

// New registers the node, lease and pod informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts ...Options) *Controller {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.GracePeriod <= 0 {
		o.GracePeriod = DefaultGracePeriod
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	nodeInf := factory.Core().V1().Nodes()
	leaseInf := factory.Coordination().V1().Leases()
	podInf := factory.Core().V1().Pods()
	// Registering an indexer fails only once the informer runs; then podsOnNode falls back to a
	// scan.
	_ = podInf.Informer().AddIndexers(cache.Indexers{podNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	events, recorder := controllerutil.NewEventRecorder("node-controller")
	c := &Controller{
		client:      client,
		nodeLister:  nodeInf.Lister(),
		leaseLister: leaseInf.Lister(),
		podLister:   podInf.Lister(),
		podIndexer:  podInf.Informer().GetIndexer(),
		synced:      []cache.InformerSynced{nodeInf.Informer().HasSynced, leaseInf.Informer().HasSynced, podInf.Informer().HasSynced},
		nodeQueue:   controllerutil.NewQueueWithClock("node_lifecycle", o.Clock),
		podQueue:    controllerutil.NewQueueWithClock("taint_eviction", o.Clock),
		events:      events,
		recorder:    recorder,
		grace:       o.GracePeriod,
		clock:       o.Clock,
		health:      map[string]*nodeHealth{},
	}
	_, _ = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onNodeAdd,
		UpdateFunc: c.onNodeUpdate,
		DeleteFunc: c.onNodeDelete,
	})
	_, _ = leaseInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onLease,
		UpdateFunc: func(_, obj any) { c.onLease(obj) },
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onPod,
		UpdateFunc: func(oldObj, newObj any) { c.onPodUpdate(oldObj, newObj) },
	})
	return c
}

// Run processes nodes and pod evictions until ctx is done; workers goroutines serve each queue.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.events, c.client)
	var wg sync.WaitGroup
	wg.Go(func() {
		controllerutil.RunWorkers(ctx, "node_lifecycle", c.nodeQueue, workers, c.syncNode, c.synced...)
	})
	wg.Go(func() {
		controllerutil.RunWorkers(ctx, "taint_eviction", c.podQueue, workers, c.syncPod, c.synced...)
	})
	wg.Wait()
}

func (c *Controller) onNodeAdd(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.nodeQueue.Add(n.Name)
		c.enqueuePodsOn(n.Name)
	}
}

func (c *Controller) onNodeUpdate(oldObj, newObj any) {
	oldNode, ok1 := oldObj.(*corev1.Node)
	newNode, ok2 := newObj.(*corev1.Node)
	if !ok1 || !ok2 {
		return
	}
	c.nodeQueue.Add(newNode.Name)
	if !sameNoExecuteTaints(oldNode.Spec.Taints, newNode.Spec.Taints) || readyStatus(oldNode) != readyStatus(newNode) {
		c.enqueuePodsOn(newNode.Name)
	}
}

func (c *Controller) onNodeDelete(obj any) {
	if n, ok := controllerutil.Tombstone[*corev1.Node](obj); ok {
		c.mu.Lock()
		delete(c.health, n.Name)
		c.mu.Unlock()
	}
}

func (c *Controller) onLease(obj any) {
	if l, ok := obj.(*coordinationv1.Lease); ok && l.Namespace == LeaseNamespace {
		c.nodeQueue.Add(l.Name)
	}
}

func (c *Controller) onPod(obj any) {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		if key, ok := controllerutil.KeyOf(p); ok {
			c.podQueue.Add(key)
		}
	}
}

func (c *Controller) onPodUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	newPod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || newPod.Spec.NodeName == "" {
		return
	}
	// Binding, a toleration change, or the pod turning Ready again on a sick node.
	if oldPod.Spec.NodeName != newPod.Spec.NodeName || len(oldPod.Spec.Tolerations) != len(newPod.Spec.Tolerations) ||
		podReady(oldPod) != podReady(newPod) {
		c.onPod(newPod)
	}
}

func (c *Controller) enqueuePodsOn(node string) {
	for _, p := range c.podsOnNode(node) {
		c.podQueue.Add(p.Namespace + "/" + p.Name)
	}
}

func (c *Controller) podsOnNode(node string) []*corev1.Pod {
	objs, err := c.podIndexer.ByIndex(podNodeIndex, node)
	if err != nil {
		all, _ := c.podLister.List(labels.Everything())
		var out []*corev1.Pod
		for _, p := range all {
			if p.Spec.NodeName == node {
				out = append(out, p)
			}
		}
		return out
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func readyStatus(n *corev1.Node) corev1.ConditionStatus {
	if c := readyCondition(n); c != nil {
		return c.Status
	}
	return corev1.ConditionUnknown
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// syncNode evaluates one node's health, updates its conditions and taints and its pods' Ready
// condition, and schedules the next check for when its grace period would run out.
func (c *Controller) syncNode(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting node %s: %w", name, err)
	}
	node, err = c.updateHealth(ctx, node)
	if err != nil {
		return err
	}
	if err := c.updateTaints(ctx, node); err != nil {
		return err
	}
	if readyStatus(node) != corev1.ConditionTrue {
		if err := c.markPodsNotReady(ctx, node.Name); err != nil {
			return err
		}
	}
	return nil
}

// updateHealth records heartbeats and, once the node has been silent for the grace period, sets
// its conditions to Unknown. It returns the node as now stored.
func (c *Controller) updateHealth(ctx context.Context, node *corev1.Node) (*corev1.Node, error) {
	now := c.clock.Now()
	var leaseRenew time.Time
	if lease, err := c.leaseLister.Leases(LeaseNamespace).Get(node.Name); err == nil && lease.Spec.RenewTime != nil {
		leaseRenew = lease.Spec.RenewTime.Time
	}
	var heartbeat time.Time
	ready := readyCondition(node)
	if ready != nil {
		heartbeat = ready.LastHeartbeatTime.Time
	}

	c.mu.Lock()
	h, known := c.health[node.Name]
	if !known {
		// First sight: give the node a full grace period from now.
		h = &nodeHealth{probeTime: now, leaseRenew: leaseRenew, readyHeartbeat: heartbeat}
		c.health[node.Name] = h
	}
	if !leaseRenew.Equal(h.leaseRenew) || !heartbeat.Equal(h.readyHeartbeat) {
		h.probeTime = now
		h.leaseRenew = leaseRenew
		h.readyHeartbeat = heartbeat
	}
	deadline := h.probeTime.Add(c.grace)
	c.mu.Unlock()

	if now.Before(deadline) {
		c.nodeQueue.AddAfter(node.Name, deadline.Sub(now))
		return node, nil
	}
	updated := node.DeepCopy()
	changed := false
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		changed = setUnknown(updated, t, now) || changed
	}
	if !changed {
		return node, nil
	}
	result, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("marking node %s unknown: %w", node.Name, err)
	}
	c.recorder.Eventf(result, corev1.EventTypeNormal, "NodeNotReady", "Node %s status is now: NodeNotReady", node.Name)
	return result, nil
}

// setUnknown sets condition t of node to Unknown; it reports whether anything changed.
func setUnknown(node *corev1.Node, t corev1.NodeConditionType, now time.Time) bool {
	for i := range node.Status.Conditions {
		cond := &node.Status.Conditions[i]
		if cond.Type != t {
			continue
		}
		if cond.Status == corev1.ConditionUnknown {
			return false
		}
		cond.Status = corev1.ConditionUnknown
		cond.Reason = reasonNodeStatusUnknown
		cond.Message = messageStoppedPosting
		cond.LastTransitionTime = metav1.NewTime(now)
		return true
	}
	node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
		Type: t, Status: corev1.ConditionUnknown, Reason: reasonNodeNeverUpdated, Message: messageNeverPosted,
		LastHeartbeatTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	})
	return true
}

// managedTaintKeys are the taint keys this controller owns; others are left as users set them.
var managedTaintKeys = map[string]bool{
	corev1.TaintNodeNotReady:           true,
	corev1.TaintNodeUnreachable:        true,
	corev1.TaintNodeMemoryPressure:     true,
	corev1.TaintNodeDiskPressure:       true,
	corev1.TaintNodePIDPressure:        true,
	corev1.TaintNodeNetworkUnavailable: true,
	corev1.TaintNodeUnschedulable:      true,
}

// desiredTaints returns the managed taints node should carry given its conditions.
func desiredTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	add := func(key string, effects ...corev1.TaintEffect) {
		for _, e := range effects {
			out = append(out, corev1.Taint{Key: key, Effect: e})
		}
	}
	switch readyStatus(node) {
	case corev1.ConditionFalse:
		add(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute)
	case corev1.ConditionUnknown:
		add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute)
	}
	for _, cond := range node.Status.Conditions {
		if cond.Status != corev1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case corev1.NodeMemoryPressure:
			add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
		case corev1.NodeDiskPressure:
			add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
		case corev1.NodePIDPressure:
			add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
		case corev1.NodeNetworkUnavailable:
			add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
		}
	}
	if node.Spec.Unschedulable {
		add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	}
	return out
}

// updateTaints brings node's managed taints to the desired set, keeping the time an existing
// NoExecute taint was added (eviction deadlines count from it).
func (c *Controller) updateTaints(ctx context.Context, node *corev1.Node) error {
	want := desiredTaints(node)
	var next []corev1.Taint
	changed := false
	wanted := func(t corev1.Taint) bool {
		for _, w := range want {
			if w.Key == t.Key && w.Effect == t.Effect {
				return true
			}
		}
		return false
	}
	for _, t := range node.Spec.Taints {
		if managedTaintKeys[t.Key] && !wanted(t) {
			changed = true
			continue
		}
		next = append(next, t)
	}
	now := metav1.NewTime(c.clock.Now())
	for _, w := range want {
		present := false
		for _, t := range next {
			if t.Key == w.Key && t.Effect == w.Effect {
				present = true
				break
			}
		}
		if present {
			continue
		}
		if w.Effect == corev1.TaintEffectNoExecute {
			w.TimeAdded = &now
		}
		next = append(next, w)
		changed = true
	}
	if !changed {
		return nil
	}
	updated := node.DeepCopy()
	updated.Spec.Taints = next
	if _, err := c.client.CoreV1().Nodes().Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating taints of node %s: %w", node.Name, err)
	}
	return nil
}

// markPodsNotReady sets the Ready condition of the node's pods to False: their kubelet cannot
// vouch for them any more, so Services stop sending them traffic.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) error {
	now := metav1.NewTime(c.clock.Now())
	for _, p := range c.podsOnNode(node) {
		if !podReady(p) || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		updated := p.DeepCopy()
		for i := range updated.Status.Conditions {
			if updated.Status.Conditions[i].Type == corev1.PodReady {
				updated.Status.Conditions[i].Status = corev1.ConditionFalse
				updated.Status.Conditions[i].LastTransitionTime = now
			}
		}
		_, err := c.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("marking pod %s/%s not ready: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

func sameNoExecuteTaints(a, b []corev1.Taint) bool {
	pick := func(ts []corev1.Taint) map[string]bool {
		m := map[string]bool{}
		for _, t := range ts {
			if t.Effect == corev1.TaintEffectNoExecute {
				m[t.Key+"="+t.Value] = true
			}
		}
		return m
	}
	x, y := pick(a), pick(b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}
