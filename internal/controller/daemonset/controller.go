// Package daemonset implements the DaemonSet controller: one pod per eligible node (node selector,
// required node affinity, taints against tolerations), pinned to its node with required node
// affinity on metadata.name like upstream, replaced node by node within maxUnavailable/maxSurge when
// the template changes, with the template history kept in ControllerRevisions.
package daemonset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// BurstReplicas caps the pods one sync creates, as upstream does.
const BurstReplicas = 250

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Controller is the DaemonSet controller.
type Controller struct {
	client       kubernetes.Interface
	dsLister     appslisters.DaemonSetLister
	podLister    corelisters.PodLister
	nodeLister   corelisters.NodeLister
	revLister    appslisters.ControllerRevisionLister
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *controllerutil.Expectations
	broadcaster  record.EventBroadcaster
	recorder     record.EventRecorder
	now          func() time.Time
}

// New registers the DaemonSet, Pod, Node and ControllerRevision informers of factory and returns
// the controller. The caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	b, rec := controllerutil.NewEventRecorder("daemonset-controller")
	c := &Controller{
		client:       client,
		queue:        controllerutil.NewQueue("daemonset"),
		expectations: controllerutil.NewExpectations(),
		broadcaster:  b,
		recorder:     rec,
		now:          time.Now,
	}
	dsInf := factory.Apps().V1().DaemonSets()
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	revInf := factory.Apps().V1().ControllerRevisions()
	c.dsLister, c.podLister, c.nodeLister, c.revLister = dsInf.Lister(), podInf.Lister(), nodeInf.Lister(), revInf.Lister()
	c.synced = []cache.InformerSynced{dsInf.Informer().HasSynced, podInf.Informer().HasSynced,
		nodeInf.Informer().HasSynced, revInf.Informer().HasSynced}

	_, _ = dsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: func(obj any) {
			if key, ok := controllerutil.KeyOf(obj); ok {
				c.expectations.Forget(key)
				c.queue.Add(key)
			}
		},
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	_, _ = nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueueAll() },
		UpdateFunc: func(oldObj, curObj any) {
			if nodeChangeMatters(oldObj.(*corev1.Node), curObj.(*corev1.Node)) {
				c.enqueueAll()
			}
		},
		DeleteFunc: func(any) { c.enqueueAll() },
	})
	return c
}

// Run syncs DaemonSets with `workers` goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.broadcaster, c.client)
	controllerutil.RunWorkers(ctx, "daemonset", c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) enqueueAll() {
	list, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		c.enqueue(ds)
	}
}

// nodeChangeMatters ignores heartbeat-only node updates: only what decides eligibility counts.
func nodeChangeMatters(old, cur *corev1.Node) bool {
	return !labels.Equals(old.Labels, cur.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		old.Spec.Unschedulable != cur.Spec.Unschedulable
}

func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	list, err := c.dsLister.DaemonSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.enqueue(ds)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		ds := c.ownerOf(pod.Namespace, ref)
		if ds == nil {
			return
		}
		key, _ := controllerutil.KeyOf(ds)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
		c.deletePod(cur)
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	refChanged := (oldRef == nil) != (curRef == nil) || (oldRef != nil && oldRef.UID != curRef.UID)
	if refChanged && oldRef != nil {
		if ds := c.ownerOf(old.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.ownerOf(cur.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		if ds.Spec.MinReadySeconds > 0 && !controllerutil.IsPodReady(old) && controllerutil.IsPodReady(cur) {
			key, _ := controllerutil.KeyOf(ds)
			c.queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if refChanged || !labels.Equals(old.Labels, cur.Labels) {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := controllerutil.Tombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	ds := c.ownerOf(pod.Namespace, metav1.GetControllerOf(pod))
	if ds == nil {
		return
	}
	key, _ := controllerutil.KeyOf(ds)
	c.expectations.DeletionObserved(key, string(pod.UID))
	c.queue.Add(key)
}
