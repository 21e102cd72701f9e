// Package garbagecollector deletes objects whose owners are gone, following ownerReferences the
// way upstream's garbage collector does. It builds a graph of owners and dependents from
// informers over every resource that can be deleted, and acts on three kinds of deletion:
//
//   - background: once an owner has disappeared, its dependents are deleted (a dependent with
//     other owners that still exist only loses the reference to the vanished one);
//   - foreground: an owner being deleted with the foregroundDeletion finalizer has its dependents
//     deleted first; the finalizer is removed once no dependent with blockOwnerDeletion is left;
//   - orphan: an owner being deleted with the orphan finalizer has its references removed from
//     all its dependents, then the finalizer is removed.
//
// The API server adds those finalizers for DeleteOptions.propagationPolicy Foreground and Orphan
// and deletes the object once its last finalizer is gone.
//
// Built-in resources are watched through the shared typed informers (shared with the other
// controllers); other resources (custom resources, less common kinds) through metadata-only
// informers, discovered anew every ResyncPeriod.
package garbagecollector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// DefaultResyncPeriod is how often discovery is consulted for new resources to watch.
const DefaultResyncPeriod = 30 * time.Second

// ignoredResources are never garbage collected, as upstream (events are too numerous and
// expire on their own).
var ignoredResources = []schema.GroupResource{
	{Group: "", Resource: "events"},
	{Group: "events.k8s.io", Resource: "events"},
}

// typedResources are watched through the shared informer factory. They are the kinds that
// usually own or are owned, and other controllers watch them already. ConfigMaps, Secrets and
// PodDisruptionBudgets are not among them: no other controller watches them, and a typed
// informer would hold (and decode on every write) whole objects where the graph needs only
// their metadata; the metadata informers cover them.
var typedResources = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{
	{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, "Pod"},
	{schema.GroupVersionResource{Version: "v1", Resource: "services"}, "Service"},
	{schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, "Endpoints"},
	{schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, "ServiceAccount"},
	{schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, "PersistentVolumeClaim"},
	{schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, "ReplicationController"},
	{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, "Node"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, "ReplicaSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet"},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}, "ControllerRevision"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, "Job"},
	{schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, "CronJob"},
	{schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, "EndpointSlice"},
	{schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, "Lease"},
}

// Options carries what the collector needs beyond the typed client.
type Options struct {
	// Metadata reads, patches and deletes objects of any resource, and watches the resources
	// not covered by the typed informers. Required.
	Metadata metadata.Interface
	// Discovery defaults to the typed client's discovery.
	Discovery Discovery
	// ResyncPeriod is how often discovery is checked for new resources (default 30 s).
	ResyncPeriod time.Duration
}

// Controller is the garbage collector.
type Controller struct {
	metadata     metadata.Interface
	discovery    Discovery
	mapper       *restMapper
	graph        *graph
	deleteQueue  workqueue.TypedRateLimitingInterface[string] // UIDs
	orphanQueue  workqueue.TypedRateLimitingInterface[string] // UIDs
	resyncPeriod time.Duration
	typedSynced  []cache.InformerSynced

	mu       sync.Mutex
	monitors map[schema.GroupResource]*monitor
}

// monitor watches one resource.
type monitor struct {
	gvr    schema.GroupVersionResource
	synced cache.InformerSynced
	cancel context.CancelFunc // nil for typed informers, which the factory runs
}

// New registers the typed informers of the common resources and returns the collector.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.Discovery == nil {
		opts.Discovery = client.Discovery()
	}
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	c := &Controller{
		metadata:     opts.Metadata,
		discovery:    opts.Discovery,
		mapper:       newRESTMapper(opts.Discovery),
		deleteQueue:  controllerutil.NewQueue("garbage_collector_attempt_to_delete"),
		orphanQueue:  controllerutil.NewQueue("garbage_collector_attempt_to_orphan"),
		resyncPeriod: opts.ResyncPeriod,
		monitors:     map[schema.GroupResource]*monitor{},
	}
	c.graph = newGraph(
		func(uid types.UID) { c.deleteQueue.Add(string(uid)) },
		func(uid types.UID) { c.orphanQueue.Add(string(uid)) },
	)
	for _, r := range typedResources {
		inf, err := factory.ForResource(r.gvr)
		if err != nil {
			continue // not a type the factory knows; a metadata informer will cover it
		}
		informer := inf.Informer()
		c.addHandlers(informer, r.gvr.GroupVersion().String(), r.kind)
		c.monitors[r.gvr.GroupResource()] = &monitor{gvr: r.gvr, synced: informer.HasSynced}
		c.typedSynced = append(c.typedSynced, informer.HasSynced)
	}
	return c
}

// addHandlers feeds an informer's events into the graph.
func (c *Controller) addHandlers(inf cache.SharedIndexInformer, apiVersion, kind string) {
	observe := func(obj any) {
		if m, err := meta.Accessor(obj); err == nil {
			c.graph.observe(m, apiVersion, kind)
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if m, err := meta.Accessor(obj); err == nil {
				c.graph.forget(m.GetUID())
			}
		},
	})
}

// Run collects garbage until ctx is done, with workers goroutines per queue.
func (c *Controller) Run(ctx context.Context, workers int) {
	logger := klog.FromContext(ctx).WithValues("controller", "garbagecollector")
	defer c.stopMonitors()
	if c.metadata == nil {
		logger.Error(nil, "garbage collector has no metadata client; nothing will be collected")
		<-ctx.Done()
		return
	}
	if !controllerutil.WaitForCaches(ctx, "garbagecollector", c.typedSynced...) {
		return
	}
	if err := c.mapper.refresh(); err != nil {
		logger.Error(err, "initial discovery")
	}
	c.syncMonitors(ctx)
	// The graph is whole once every monitor has listed; until then an owner's dependents may be
	// missing from it. A resource that cannot be listed must not stop collection for good, so
	// the wait is bounded.
	c.waitForMonitors(ctx, monitorSyncTimeout)
	var wg sync.WaitGroup
	wg.Go(func() {
		controllerutil.RunWorkers(ctx, "garbage_collector_attempt_to_delete", c.deleteQueue, workers, c.syncDelete)
	})
	wg.Go(func() {
		controllerutil.RunWorkers(ctx, "garbage_collector_attempt_to_orphan", c.orphanQueue, workers, c.syncOrphan)
	})
	t := time.NewTicker(c.resyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			c.syncMonitors(ctx)
		}
	}
}

// syncMonitors starts metadata informers for deletable resources not watched yet and stops
// those of resources that went away.
func (c *Controller) syncMonitors(ctx context.Context) {
	logger := klog.FromContext(ctx)
	resources, err := deletableResources(c.discovery, ignoredResources)
	if err != nil {
		logger.V(2).Info("partial discovery for garbage collection", "err", err)
	}
	if len(resources) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	wanted := map[schema.GroupResource]bool{}
	for gvr, kind := range resources {
		gr := gvr.GroupResource()
		wanted[gr] = true
		if _, ok := c.monitors[gr]; ok {
			continue
		}
		inf := metadatainformer.NewFilteredMetadataInformer(c.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
		c.addHandlers(inf, gvr.GroupVersion().String(), kind)
		mctx, cancel := context.WithCancel(ctx)
		go inf.RunWithContext(mctx)
		c.monitors[gr] = &monitor{gvr: gvr, synced: inf.HasSynced, cancel: cancel}
		logger.V(4).Info("garbage collector watching", "resource", gvr)
	}
	for gr, m := range c.monitors {
		if m.cancel != nil && !wanted[gr] {
			m.cancel()
			delete(c.monitors, gr)
		}
	}
}

// monitorSyncTimeout bounds how long Run waits for the first list of every monitor.
const monitorSyncTimeout = 30 * time.Second

func (c *Controller) waitForMonitors(ctx context.Context, timeout time.Duration) {
	c.mu.Lock()
	synced := make([]cache.InformerSynced, 0, len(c.monitors))
	for _, m := range c.monitors {
		synced = append(synced, m.synced)
	}
	c.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !cache.WaitForCacheSync(wctx.Done(), synced...) && ctx.Err() == nil {
		klog.FromContext(ctx).Info("garbage collector: not every resource monitor has synced; collecting anyway", "waited", timeout)
	}
}

func (c *Controller) stopMonitors() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.monitors {
		if m.cancel != nil {
			m.cancel()
		}
	}
}

// monitored reports whether objects of apiVersion/kind are watched (so a virtual node of that
// kind will be observed eventually).
func (c *Controller) monitored(apiVersion, kind string) bool {
	mp, err := c.mapper.lookup(apiVersion, kind)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.monitors[mp.resource.GroupResource()]
	return ok
}

// errNotObserved makes the worker retry an existing object the informers have not delivered.
var errNotObserved = fmt.Errorf("object exists but has not been observed yet")
