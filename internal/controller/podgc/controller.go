// Package podgc deletes pods nobody else will clean up, as upstream's pod-garbage-collector does:
// terminated pods beyond a threshold (oldest first), pods bound to nodes that no longer exist
// (after a quarantine confirms the node is really gone), terminating pods that were never
// scheduled, and terminating pods on nodes that are out of service and not ready.
package podgc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const (
	// DefaultTerminatedPodThreshold is upstream's --terminated-pod-gc-threshold.
	DefaultTerminatedPodThreshold = 12500
	// DefaultCheckPeriod is how often upstream's pod GC runs.
	DefaultCheckPeriod = 20 * time.Second
	// DefaultQuarantine is how long a node must be missing before its pods are removed, so that
	// a node that is only late in the informer does not lose its pods.
	DefaultQuarantine = 40 * time.Second
	// outOfServiceTaint marks a node an administrator declared shut down.
	outOfServiceTaint = "node.kubernetes.io/out-of-service"
	// parallelDeletes bounds concurrent pod deletions in one pass.
	parallelDeletes = 16
)

// Options tunes the controller; zero fields take the defaults above.
type Options struct {
	// TerminatedPodThreshold is how many terminated (Succeeded/Failed) pods may exist before the
	// oldest are deleted. Negative disables this collection.
	TerminatedPodThreshold int
	CheckPeriod            time.Duration
	Quarantine             time.Duration
	Clock                  clock.PassiveClock
}

// Controller is the pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	opts       Options

	mu sync.Mutex
	// missingSince records when each node named by a pod was first seen missing from the cache.
	missingSince map[string]time.Time
}

// New registers the pod and node informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts ...Options) *Controller {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.TerminatedPodThreshold == 0 {
		o.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if o.CheckPeriod <= 0 {
		o.CheckPeriod = DefaultCheckPeriod
	}
	if o.Quarantine <= 0 {
		o.Quarantine = DefaultQuarantine
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	return &Controller{
		client:       client,
		podLister:    podInf.Lister(),
		nodeLister:   nodeInf.Lister(),
		synced:       []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		opts:         o,
		missingSince: map[string]time.Time{},
	}
}

// Run collects garbage every CheckPeriod until ctx is done. Pod GC is a single loop; workers is
// accepted for the common controller signature and ignored.
func (c *Controller) Run(ctx context.Context, _ int) {
	if !controllerutil.WaitForCaches(ctx, "podgc", c.synced...) {
		return
	}
	t := time.NewTicker(c.opts.CheckPeriod)
	defer t.Stop()
	for {
		if err := c.gc(ctx); err != nil && ctx.Err() == nil {
			klog.FromContext(ctx).Error(err, "pod garbage collection")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gc runs one collection pass.
func (c *Controller) gc(ctx context.Context) error {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	var errs []error
	if c.opts.TerminatedPodThreshold > 0 {
		errs = append(errs, c.gcTerminated(ctx, pods))
	}
	errs = append(errs, c.gcTerminatingOutOfService(ctx, pods, nodes))
	errs = append(errs, c.gcOrphaned(ctx, pods, nodes))
	errs = append(errs, c.gcUnscheduledTerminating(ctx, pods))
	return joinErrors(errs)
}

func isTerminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// gcTerminated deletes the oldest terminated pods beyond the threshold.
func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) error {
	var terminated []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) && p.DeletionTimestamp == nil {
			terminated = append(terminated, p)
		}
	}
	excess := len(terminated) - c.opts.TerminatedPodThreshold
	if excess <= 0 {
		return nil
	}
	slices.SortStableFunc(terminated, func(a, b *corev1.Pod) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	return c.forEach(ctx, terminated[:excess], func(ctx context.Context, p *corev1.Pod) error {
		return c.deletePod(ctx, p, "", "")
	})
}

// gcTerminatingOutOfService force-deletes terminating pods on nodes an administrator tainted
// out-of-service and that are not Ready: no kubelet will ever confirm their termination.
func (c *Controller) gcTerminatingOutOfService(ctx context.Context, pods []*corev1.Pod, nodes []*corev1.Node) error {
	outOfService := sets.New[string]()
	for _, n := range nodes {
		if nodeReady(n) {
			continue
		}
		for _, t := range n.Spec.Taints {
			if t.Key == outOfServiceTaint && t.Effect == corev1.TaintEffectNoExecute {
				outOfService.Insert(n.Name)
			}
		}
	}
	if outOfService.Len() == 0 {
		return nil
	}
	var victims []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && outOfService.Has(p.Spec.NodeName) {
			victims = append(victims, p)
		}
	}
	return c.forEach(ctx, victims, func(ctx context.Context, p *corev1.Pod) error {
		return c.deletePod(ctx, p, "DeletionByPodGC", "PodGC: node is out of service")
	})
}

func nodeReady(n *corev1.Node) bool {
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// gcOrphaned deletes pods bound to nodes that do not exist. A node missing from the cache is
// quarantined first and then confirmed missing with a live read.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod, nodes []*corev1.Node) error {
	known := sets.New[string]()
	for _, n := range nodes {
		known.Insert(n.Name)
	}
	now := c.opts.Clock.Now()
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if p.Spec.NodeName == "" || known.Has(p.Spec.NodeName) {
			continue
		}
		byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
	}
	c.mu.Lock()
	for name := range c.missingSince {
		if _, stillNeeded := byNode[name]; !stillNeeded {
			delete(c.missingSince, name)
		}
	}
	var due []string
	for name := range byNode {
		since, ok := c.missingSince[name]
		if !ok {
			c.missingSince[name] = now
			continue
		}
		if now.Sub(since) >= c.opts.Quarantine {
			due = append(due, name)
		}
	}
	c.mu.Unlock()

	var victims []*corev1.Pod
	for _, name := range due {
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			victims = append(victims, byNode[name]...)
		case err != nil:
			return fmt.Errorf("checking node %s: %w", name, err)
		default:
			// The node exists after all (our cache lagged): forget the quarantine.
			c.mu.Lock()
			delete(c.missingSince, name)
			c.mu.Unlock()
		}
	}
	return c.forEach(ctx, victims, func(ctx context.Context, p *corev1.Pod) error {
		return c.deletePod(ctx, p, "DeletionByPodGC", "PodGC: node no longer exists")
	})
}

// gcUnscheduledTerminating force-deletes terminating pods that never got a node: no kubelet
// exists to finish their deletion.
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) error {
	var victims []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			victims = append(victims, p)
		}
	}
	return c.forEach(ctx, victims, func(ctx context.Context, p *corev1.Pod) error {
		return c.deletePod(ctx, p, "", "")
	})
}

// deletePod force-deletes p. With a reason, a pod that has not finished is first marked Failed
// with a DisruptionTarget condition, so its controller (e.g. a Job) sees why it went away.
func (c *Controller) deletePod(ctx context.Context, p *corev1.Pod, reason, message string) error {
	logger := klog.FromContext(ctx)
	if reason != "" && !isTerminated(p) {
		if err := c.markFailed(ctx, p, reason, message); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	logger.V(2).Info("pod GC deleting pod", "pod", klog.KObj(p), "reason", reason)
	err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &p.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

func (c *Controller) markFailed(ctx context.Context, p *corev1.Pod, reason, message string) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"phase": corev1.PodFailed,
		"conditions": []corev1.PodCondition{{
			Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reason, Message: message,
			LastTransitionTime: metav1.NewTime(c.opts.Clock.Now()),
		}},
	}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		return fmt.Errorf("marking pod %s/%s failed: %w", p.Namespace, p.Name, err)
	}
	return nil
}

// forEach runs fn over pods with bounded parallelism and joins the errors.
func (c *Controller) forEach(ctx context.Context, pods []*corev1.Pod, fn func(context.Context, *corev1.Pod) error) error {
	if len(pods) == 0 {
		return nil
	}
	sem := make(chan struct{}, parallelDeletes)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, p := range pods {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, p); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return joinErrors(errs)
}

func joinErrors(errs []error) error {
	var out []error
	for _, e := range errs {
		if e != nil {
			out = append(out, e)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	default:
		return fmt.Errorf("%d errors, first: %w", len(out), out[0])
	}
}
