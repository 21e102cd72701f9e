// Package replicaset implements the ReplicaSet controller: it keeps spec.replicas active pods
// matching a ReplicaSet's selector, adopting orphans and releasing pods that stopped matching, and
// reports the pods' readiness and availability in the ReplicaSet's status. The same controller
// runs ReplicationControllers (NewReplicationController), as upstream does.
package replicaset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// BurstReplicas caps how many pods one sync creates or deletes, as upstream does, so one huge
// ReplicaSet cannot starve the others and expectations stay small.
const BurstReplicas = 500

// Controller is the ReplicaSet controller.
type Controller struct {
	client       kubernetes.Interface
	owners       owners
	kind         schema.GroupVersionKind
	podLister    corelisters.PodLister
	synced       []cache.InformerSynced
	queue        workqueue.TypedRateLimitingInterface[string]
	expectations *controllerutil.Expectations
	broadcaster  record.EventBroadcaster
	recorder     record.EventRecorder
	now          func() time.Time
	name         string
}

// New registers the ReplicaSet and Pod informers of factory and returns the ReplicaSet
// controller. The caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	rsInf := factory.Apps().V1().ReplicaSets()
	return newController(client, factory, "replicaset", replicaSets{client: client, lister: rsInf.Lister()}, rsInf.Informer())
}

// NewReplicationController registers the ReplicationController and Pod informers of factory and
// returns the ReplicationController controller. The caller starts the factory.
func NewReplicationController(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	rcInf := factory.Core().V1().ReplicationControllers()
	return newController(client, factory, "replicationcontroller", replicationControllers{client: client, lister: rcInf.Lister()}, rcInf.Informer())
}

func newController(client kubernetes.Interface, factory informers.SharedInformerFactory, name string, o owners, ownerInf cache.SharedIndexInformer) *Controller {
	b, rec := controllerutil.NewEventRecorder(name + "-controller")
	c := &Controller{
		client:       client,
		owners:       o,
		kind:         o.kind(),
		name:         name,
		queue:        controllerutil.NewQueue(name),
		expectations: controllerutil.NewExpectations(),
		broadcaster:  b,
		recorder:     rec,
		now:          time.Now,
	}
	podInf := factory.Core().V1().Pods()
	c.podLister = podInf.Lister()
	c.synced = []cache.InformerSynced{ownerInf.HasSynced, podInf.Informer().HasSynced}
	c.registerHandlers(ownerInf, podInf)
	return c
}

// Run syncs ReplicaSets (or ReplicationControllers) with `workers` goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.broadcaster, c.client)
	controllerutil.RunWorkers(ctx, c.name, c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) registerHandlers(ownerInf cache.SharedIndexInformer, podInf coreinformers.PodInformer) {
	_, _ = ownerInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
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
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// ownerOf returns the ReplicaSet a controller reference points to, if it still exists.
func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	if ref == nil || ref.Kind != c.kind.Kind || ref.APIVersion != c.kind.GroupVersion().String() {
		return nil
	}
	rs, err := c.owners.get(namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

// enqueueMatching enqueues every ReplicaSet whose selector matches an orphan pod, so one can adopt it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	list, err := c.owners.list(pod.Namespace)
	if err != nil {
		return
	}
	for _, rs := range list {
		sel, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		c.enqueue(rs)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOf(pod); ref != nil {
		rs := c.ownerOf(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key, _ := controllerutil.KeyOf(rs)
		c.expectations.CreationObserved(key)
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return // a resync; nothing changed
	}
	labelsChanged := !labels.Equals(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
		// Graceful deletion started: for our purposes the pod is gone now.
		c.deletePod(cur)
		if labelsChanged {
			c.deletePod(old)
		}
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	refChanged := !equalRefs(oldRef, curRef)
	if refChanged && oldRef != nil {
		if rs := c.ownerOf(old.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.ownerOf(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// A pod that just became ready becomes available only minReadySeconds later; look again then.
		if rs.Spec.MinReadySeconds > 0 && !controllerutil.IsPodReady(old) && controllerutil.IsPodReady(cur) {
			key, _ := controllerutil.KeyOf(rs)
			c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := controllerutil.Tombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	rs := c.ownerOf(pod.Namespace, metav1.GetControllerOf(pod))
	if rs == nil {
		return
	}
	key, _ := controllerutil.KeyOf(rs)
	c.expectations.DeletionObserved(key, string(pod.UID))
	c.queue.Add(key)
}

func equalRefs(a, b *metav1.OwnerReference) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UID == b.UID
}
