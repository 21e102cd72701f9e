// Package namespace empties Namespaces that are being deleted, as upstream's namespace
// controller does: once a Namespace has a deletionTimestamp it is marked Terminating, every
// namespaced resource the API serves is deleted inside it (discovered through the discovery API,
// deleted with deletecollection), and when nothing is left the "kubernetes" finalizer is removed
// through the namespaces/{name}/finalize subresource so that the API server can delete the
// Namespace itself. Progress is reported in the upstream status conditions
// (NamespaceContentRemaining, NamespaceDeletionContentFailure, ...).
package namespace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const (
	// parallelDeletes bounds how many resource types are emptied at once.
	parallelDeletes = 8
	// minRetry and maxRetry bound the exponential wait between passes over a namespace whose
	// content is still going away.
	minRetry = 500 * time.Millisecond
	maxRetry = 30 * time.Second
)

// Options carries what the controller needs beyond the typed client.
type Options struct {
	// Metadata is the client used to list and delete objects of any resource, including custom
	// resources. Required.
	Metadata metadata.Interface
	// Discovery lists the namespaced resources; defaults to the typed client's discovery.
	Discovery ResourceDiscovery
	// Clock stamps condition transitions (default: real time).
	Clock clock.PassiveClock
}

// ResourceDiscovery is the part of the discovery client the controller uses.
type ResourceDiscovery interface {
	ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error)
}

// Controller is the namespace controller.
type Controller struct {
	client    kubernetes.Interface
	metadata  metadata.Interface
	discovery ResourceDiscovery
	nsLister  corelisters.NamespaceLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
	clock     clock.PassiveClock
}

// New registers the namespace informer and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Discovery == nil {
		opts.Discovery = client.Discovery()
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	nsInf := factory.Core().V1().Namespaces()
	c := &Controller{
		client:    client,
		metadata:  opts.Metadata,
		discovery: opts.Discovery,
		nsLister:  nsInf.Lister(),
		synced:    []cache.InformerSynced{nsInf.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](minRetry, maxRetry),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"}),
		clock: opts.Clock,
	}
	_, _ = nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c
}

func (c *Controller) enqueue(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
		c.queue.Add(ns.Name)
	}
}

// Run processes terminating namespaces until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	if c.metadata == nil {
		defer c.queue.ShutDown()
		klog.FromContext(ctx).Error(nil, "namespace controller has no metadata client; namespaces will not be emptied")
		<-ctx.Done()
		return
	}
	controllerutil.Workers{
		Name: "namespace", Queue: c.queue, Sync: c.sync, Synced: c.synced,
		// Content still going away (or a failure): the key is looked at again after a growing
		// delay. Graceful pod deletions usually end long before their grace period when the
		// kubelet is alive, so the estimate is not waited for in full.
		LogError: func(logger klog.Logger, name string, err error) {
			var remaining *contentRemainingError
			if !errors.As(err, &remaining) {
				logger.V(2).Info("namespace deletion failed", "namespace", name, "err", err)
			}
		},
	}.Run(ctx, workers)
}

// contentRemainingError says objects are still in the namespace.
type contentRemainingError struct {
	summary string
}

func (e *contentRemainingError) Error() string { return "content remaining: " + e.summary }

// sync runs one deletion pass over the namespace name.
func (c *Controller) sync(ctx context.Context, name string) error {
	cached, err := c.nsLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %s: %w", name, err)
	}
	if cached.DeletionTimestamp == nil {
		return nil
	}
	ns := cached.DeepCopy()
	if ns.Status.Phase != corev1.NamespaceTerminating {
		ns.Status.Phase = corev1.NamespaceTerminating
		if ns, err = c.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("marking namespace %s terminating: %w", name, err)
		}
	}
	if !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil // our part is done; other finalizers belong to others
	}
	result := c.deleteContent(ctx, name)
	if ns, err = c.updateConditions(ctx, ns, result); err != nil {
		return err
	}
	if result.err != nil {
		return result.err
	}
	if result.remaining > 0 {
		return &contentRemainingError{summary: result.remainingSummary()}
	}
	return c.finalize(ctx, ns)
}

// finalize removes the "kubernetes" finalizer through the finalize subresource.
func (c *Controller) finalize(ctx context.Context, ns *corev1.Namespace) error {
	fresh := ns.DeepCopy()
	fresh.Spec.Finalizers = slices.DeleteFunc(fresh.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	_, err := c.client.CoreV1().Namespaces().Finalize(ctx, fresh, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing namespace %s: %w", ns.Name, err)
	}
	return nil
}

// deletionResult summarises one pass.
type deletionResult struct {
	discoveryErr error
	deleteErrs   map[string]error // resource -> error
	remaining    int
	byResource   map[string]int // resource -> objects left
	finalizers   map[string]int // finalizer -> objects carrying it
	err          error
}

func (r *deletionResult) remainingSummary() string {
	var parts []string
	for _, res := range slices.Sorted(maps.Keys(r.byResource)) {
		parts = append(parts, fmt.Sprintf("%s has %d resource instances", res, r.byResource[res]))
	}
	return strings.Join(parts, ", ")
}

// deleteContent deletes every namespaced resource in namespace ns and counts what remains.
func (c *Controller) deleteContent(ctx context.Context, ns string) *deletionResult {
	r := &deletionResult{deleteErrs: map[string]error{}, byResource: map[string]int{}, finalizers: map[string]int{}}
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil {
		if !discovery.IsGroupDiscoveryFailedError(err) || len(lists) == 0 {
			r.discoveryErr = err
			r.err = fmt.Errorf("discovering namespaced resources: %w", err)
			return r
		}
		r.discoveryErr = err // partial: go on with what was discovered
	}
	type target struct {
		gvr              schema.GroupVersionResource
		deleteCollection bool
	}
	var targets []target
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range list.APIResources {
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") || !slices.Contains(res.Verbs, "delete") {
				continue
			}
			targets = append(targets, target{gvr: gv.WithResource(res.Name), deleteCollection: slices.Contains(res.Verbs, "deletecollection")})
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallelDeletes)
	for _, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			left, finalizers, err := c.deleteResource(ctx, ns, t.gvr, t.deleteCollection)
			mu.Lock()
			defer mu.Unlock()
			name := t.gvr.GroupResource().String()
			if err != nil {
				r.deleteErrs[name] = err
			}
			if left > 0 {
				r.remaining += left
				r.byResource[name] += left
			}
			for f, n := range finalizers {
				r.finalizers[f] += n
			}
		})
	}
	wg.Wait()
	if len(r.deleteErrs) > 0 {
		var errs []error
		for _, res := range slices.Sorted(maps.Keys(r.deleteErrs)) {
			errs = append(errs, fmt.Errorf("%s: %w", res, r.deleteErrs[res]))
		}
		r.err = errors.Join(errs...)
	}
	return r
}

// deleteResource deletes all objects of one resource in ns and reports how many are left and
// the finalizers they carry.
func (c *Controller) deleteResource(ctx context.Context, ns string, gvr schema.GroupVersionResource, collection bool) (int, map[string]int, error) {
	api := c.metadata.Resource(gvr).Namespace(ns)
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	if collection {
		err := api.DeleteCollection(ctx, opts, metav1.ListOptions{})
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsMethodNotSupported(err):
			collection = false
		default:
			return 0, nil, fmt.Errorf("deleting collection: %w", err)
		}
	}
	if !collection {
		list, err := api.List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			return 0, nil, nil
		}
		if err != nil {
			return 0, nil, fmt.Errorf("listing: %w", err)
		}
		for i := range list.Items {
			if list.Items[i].DeletionTimestamp != nil {
				continue
			}
			err := api.Delete(ctx, list.Items[i].Name, opts)
			if err != nil && !apierrors.IsNotFound(err) {
				return len(list.Items), nil, fmt.Errorf("deleting %s: %w", list.Items[i].Name, err)
			}
		}
	}
	// Count what is left: objects held by finalizers or still terminating gracefully.
	list, err := api.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("listing: %w", err)
	}
	finalizers := map[string]int{}
	for i := range list.Items {
		for _, f := range list.Items[i].Finalizers {
			finalizers[f]++
		}
	}
	return len(list.Items), finalizers, nil
}

// updateConditions records the pass's outcome in the namespace's conditions, as upstream does.
func (c *Controller) updateConditions(ctx context.Context, ns *corev1.Namespace, r *deletionResult) (*corev1.Namespace, error) {
	updated := ns.DeepCopy()
	now := metav1.NewTime(c.clock.Now())
	set := func(t corev1.NamespaceConditionType, failed bool, reasonOK, msgOK, reasonBad, msgBad string) {
		cond := corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: reasonOK, Message: msgOK}
		if failed {
			cond = corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: reasonBad, Message: msgBad}
		}
		for i := range updated.Status.Conditions {
			existing := &updated.Status.Conditions[i]
			if existing.Type != t {
				continue
			}
			if existing.Status != cond.Status {
				existing.LastTransitionTime = now
			}
			existing.Status, existing.Reason, existing.Message = cond.Status, cond.Reason, cond.Message
			return
		}
		cond.LastTransitionTime = now
		updated.Status.Conditions = append(updated.Status.Conditions, cond)
	}
	discoveryMsg := ""
	if r.discoveryErr != nil {
		discoveryMsg = "Discovery failed for some groups: " + r.discoveryErr.Error()
	}
	set(corev1.NamespaceDeletionDiscoveryFailure, r.discoveryErr != nil,
		"ResourcesDiscovered", "All resources successfully discovered", "DiscoveryFailed", discoveryMsg)
	set(corev1.NamespaceDeletionGVParsingFailure, false,
		"ParsedGroupVersions", "All legacy kube types successfully parsed", "GroupVersionParsingFailed", "")
	var failedRes []string
	for res, err := range r.deleteErrs {
		failedRes = append(failedRes, fmt.Sprintf("%s: %v", res, err))
	}
	sort.Strings(failedRes)
	set(corev1.NamespaceDeletionContentFailure, len(failedRes) > 0,
		"ContentDeleted", "All content successfully deleted, may be waiting on finalization", "ContentDeletionFailed",
		fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(failedRes), strings.Join(failedRes, ", ")))
	set(corev1.NamespaceContentRemaining, r.remaining > 0,
		"ContentRemoved", "All content successfully removed", "SomeResourcesRemain",
		"Some resources are remaining: "+r.remainingSummary())
	var fins []string
	for _, f := range slices.Sorted(maps.Keys(r.finalizers)) {
		fins = append(fins, fmt.Sprintf("%s in %d resource instances", f, r.finalizers[f]))
	}
	set(corev1.NamespaceFinalizersRemaining, len(fins) > 0,
		"ContentHasNoFinalizers", "All content-preserving finalizers finished", "SomeFinalizersRemain",
		"Some content in the namespace has finalizers remaining: "+strings.Join(fins, ", "))
	if apiequality.Semantic.DeepEqual(updated.Status, ns.Status) {
		return ns, nil
	}
	stored, err := c.client.CoreV1().Namespaces().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating conditions of namespace %s: %w", ns.Name, err)
	}
	return stored, nil
}
