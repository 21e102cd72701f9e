// Package resourcequota keeps every ResourceQuota's status true, as upstream's
// resourcequota-controller does: status.hard is the spec's, status.used is counted from the
// objects in the namespace. The API server's admission charges new objects to status.used as
// they are created; this controller recounts, so deleted pods, finished pods and creates that
// failed after admission give their share back.
//
// Pods, services and claims are watched, and any change to one recounts its namespace's quotas
// at once. Other kinds (configmaps, secrets, count/<resource>) get a metadata informer the first
// time a quota counts them, and their deletions recount too. Every quota is also recounted each
// ResyncPeriod. Counts come from consistent lists, never from a cache that may lag what
// admission charged.
package resourcequota

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/quota"
)

// DefaultResyncPeriod is how often every quota is recounted.
const DefaultResyncPeriod = 30 * time.Second

// Options carries what the controller needs beyond the typed client.
type Options struct {
	// Metadata lists the objects of kinds without a typed informer here.
	Metadata metadata.Interface
	// Discovery maps count/<resource>.<group> to a served version.
	Discovery discovery.DiscoveryInterface
	// ResyncPeriod is how often every quota is recounted (default DefaultResyncPeriod).
	ResyncPeriod time.Duration
}

// Controller recounts ResourceQuota usage.
type Controller struct {
	client   kubernetes.Interface
	metadata metadata.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	quotas   corelisters.ResourceQuotaLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string] // namespace/name of quotas
	// runCtx bounds the informers started on demand; watched is what they watch (under mu).
	runCtx    context.Context
	mu        sync.Mutex
	watched   map[schema.GroupResource]bool
	resync    time.Duration
	typedKind map[schema.GroupResource]bool
}

// New registers the informers the controller needs on factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) *Controller {
	if opts.ResyncPeriod <= 0 {
		opts.ResyncPeriod = DefaultResyncPeriod
	}
	qInf := factory.Core().V1().ResourceQuotas()
	pInf := factory.Core().V1().Pods()
	sInf := factory.Core().V1().Services()
	cInf := factory.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		client:   client,
		metadata: opts.Metadata,
		quotas:   qInf.Lister(),
		synced:   []cache.InformerSynced{qInf.Informer().HasSynced, pInf.Informer().HasSynced, sInf.Informer().HasSynced, cInf.Informer().HasSynced},
		queue:    controllerutil.NewQueue("resourcequota"),
		resync:   opts.ResyncPeriod,
		watched:  map[schema.GroupResource]bool{},
		typedKind: map[schema.GroupResource]bool{
			{Resource: "pods"}: true, {Resource: "services"}: true, {Resource: "persistentvolumeclaims"}: true,
		},
	}
	if opts.Discovery != nil {
		c.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(opts.Discovery))
	}
	_, _ = qInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueueQuota,
		// Only a quota whose limits its status does not reflect yet: admission's charges change
		// status.used alone, and a recount then could run before the charged object is stored
		// and hand its share back.
		UpdateFunc: func(_, obj any) {
			if rq, ok := obj.(*corev1.ResourceQuota); ok && !apiequality.Semantic.DeepEqual(rq.Spec.Hard, rq.Status.Hard) {
				c.enqueueQuota(obj)
			}
		},
	})
	namespaceChanged := cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespaceOf,
		UpdateFunc: func(_, obj any) { c.enqueueNamespaceOf(obj) },
		DeleteFunc: c.enqueueNamespaceOf,
	}
	for _, inf := range []cache.SharedIndexInformer{pInf.Informer(), sInf.Informer(), cInf.Informer()} {
		_, _ = inf.AddEventHandler(namespaceChanged)
	}
	return c
}

func (c *Controller) enqueueQuota(obj any) {
	if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
		c.queue.Add(key)
	}
}

// enqueueNamespaceOf recounts the quotas of the namespace obj lives in, if it has any.
func (c *Controller) enqueueNamespaceOf(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	c.enqueueQuotas(m.GetNamespace())
}

// enqueueQuotas recounts the quotas of namespace (of every namespace for NamespaceAll).
func (c *Controller) enqueueQuotas(namespace string) {
	qs, err := c.quotas.ResourceQuotas(namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range qs {
		c.queue.Add(q.Namespace + "/" + q.Name)
	}
}

// Run recounts quotas with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.mu.Lock()
	c.runCtx = ctx
	c.mu.Unlock()
	go wait.UntilWithContext(ctx, func(context.Context) { c.enqueueQuotas(metav1.NamespaceAll) }, c.resync)
	controllerutil.RunWorkers(ctx, "resourcequota", c.queue, workers, c.sync, c.synced...)
}

// sync recounts one quota and writes its status if it changed.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	// The quota as stored now, read before the objects: its resourceVersion makes the status
	// write below fail (and the sync retry) if admission charged it meanwhile.
	rq, err := c.client.CoreV1().ResourceQuotas(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	used, err := c.count(ctx, rq)
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(rq.Status.Hard, rq.Spec.Hard) && apiequality.Semantic.DeepEqual(rq.Status.Used, used) {
		return nil
	}
	next := rq.DeepCopy()
	next.Status.Hard = rq.Spec.Hard.DeepCopy()
	next.Status.Used = used
	if _, err := c.client.CoreV1().ResourceQuotas(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating status of resourcequota %s: %w", key, err)
	}
	return nil
}

// count is the usage, of the resources rq limits, of the objects rq covers.
func (c *Controller) count(ctx context.Context, rq *corev1.ResourceQuota) (corev1.ResourceList, error) {
	used := corev1.ResourceList{}
	for name := range rq.Spec.Hard {
		used[name] = zero(name)
	}
	add := func(gr schema.GroupResource, obj runtime.Object) {
		if !quota.Matches(rq, obj) {
			return
		}
		for name, q := range quota.Tracked(quota.Usage(gr, obj), rq.Spec.Hard) {
			sum := used[name]
			sum.Add(q)
			used[name] = sum
		}
	}
	// Consistent reads, not the informers' caches: a recount from a cache that has not yet seen
	// an object admission just charged for would hand its share back and let a create past the
	// limit. The API server answers these from its watch cache once it has caught up.
	consistent := metav1.ListOptions{}
	pods, err := c.client.CoreV1().Pods(rq.Namespace).List(ctx, consistent)
	if err != nil {
		return nil, fmt.Errorf("listing pods in %s: %w", rq.Namespace, err)
	}
	for i := range pods.Items {
		add(schema.GroupResource{Resource: "pods"}, &pods.Items[i])
	}
	svcs, err := c.client.CoreV1().Services(rq.Namespace).List(ctx, consistent)
	if err != nil {
		return nil, fmt.Errorf("listing services in %s: %w", rq.Namespace, err)
	}
	for i := range svcs.Items {
		add(schema.GroupResource{Resource: "services"}, &svcs.Items[i])
	}
	claims, err := c.client.CoreV1().PersistentVolumeClaims(rq.Namespace).List(ctx, consistent)
	if err != nil {
		return nil, fmt.Errorf("listing persistentvolumeclaims in %s: %w", rq.Namespace, err)
	}
	for i := range claims.Items {
		add(schema.GroupResource{Resource: "persistentvolumeclaims"}, &claims.Items[i])
	}
	// Kinds without an informer here: list their metadata (the API server answers from its
	// watch cache). A scoped quota counts pods only.
	if len(rq.Spec.Scopes) > 0 || rq.Spec.ScopeSelector != nil {
		return used, nil
	}
	for _, gr := range c.untypedKinds(rq.Spec.Hard) {
		n, err := c.countObjects(ctx, gr, rq.Namespace)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			continue
		}
		for name, q := range quota.Tracked(quota.Usage(gr, &metav1.PartialObjectMetadata{}), rq.Spec.Hard) {
			total := q.DeepCopy()
			total.Set(q.Value() * int64(n))
			sum := used[name]
			sum.Add(total)
			used[name] = sum
		}
	}
	return used, nil
}

// untypedKinds are the group/resources counted in hard that no informer here covers.
func (c *Controller) untypedKinds(hard corev1.ResourceList) []schema.GroupResource {
	seen := map[schema.GroupResource]bool{}
	var out []schema.GroupResource
	for name := range hard {
		gr, ok := countedKind(name)
		if !ok || c.typedKind[gr] || seen[gr] {
			continue
		}
		seen[gr] = true
		out = append(out, gr)
	}
	return out
}

// countedKind is the group/resource an object-count resource name counts.
func countedKind(name corev1.ResourceName) (schema.GroupResource, bool) {
	switch name {
	case corev1.ResourceConfigMaps:
		return schema.GroupResource{Resource: "configmaps"}, true
	case corev1.ResourceSecrets:
		return schema.GroupResource{Resource: "secrets"}, true
	case corev1.ResourceReplicationControllers:
		return schema.GroupResource{Resource: "replicationcontrollers"}, true
	case corev1.ResourceQuotas:
		return schema.GroupResource{Resource: "resourcequotas"}, true
	}
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok {
		return schema.GroupResource{}, false
	}
	return schema.ParseGroupResource(rest), true
}

// countObjects counts the objects of gr in namespace through the metadata client.
func (c *Controller) countObjects(ctx context.Context, gr schema.GroupResource, namespace string) (int, error) {
	if c.metadata == nil || c.mapper == nil {
		return 0, nil
	}
	gvr, err := c.mapper.ResourceFor(gr.WithVersion(""))
	if err != nil {
		c.mapper.Reset()
		return 0, nil // not served (yet): nothing of it exists
	}
	c.watchDeletions(gvr)
	list, err := c.metadata.Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{}) // consistent, as above
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("listing %s in %s: %w", gr, namespace, err)
	}
	return len(list.Items), nil
}

// zero is a zero quantity in the format quotas of name are written in.
func zero(name corev1.ResourceName) resource.Quantity {
	switch name {
	case corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory,
		corev1.ResourceRequestsStorage, corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage,
		corev1.ResourceLimitsEphemeralStorage:
		return *resource.NewQuantity(0, resource.BinarySI)
	}
	return *resource.NewQuantity(0, resource.DecimalSI)
}

// watchDeletions starts, once per kind, a metadata informer whose deletions recount the quotas
// of the namespace they happen in. Only kinds some quota counts are watched, so clusters without
// such quotas pay nothing for it.
func (c *Controller) watchDeletions(gvr schema.GroupVersionResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gr := gvr.GroupResource()
	if c.watched[gr] || c.runCtx == nil {
		return
	}
	c.watched[gr] = true
	inf := metadatainformer.NewFilteredMetadataInformer(c.metadata, gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueueNamespaceOf})
	go inf.RunWithContext(c.runCtx)
}
