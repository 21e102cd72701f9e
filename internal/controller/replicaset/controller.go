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
	pods := &controllerutil.OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]{
		Queue:        c.queue,
		OwnerGVK:     c.kind,
		Get:          c.owners.get,
		List:         c.owners.list,
		Selector:     func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector },
		Expectations: c.expectations,
		// A pod that just became ready becomes available only minReadySeconds later; look again then.
		OnOwnedUpdate: func(rs *appsv1.ReplicaSet, old, cur *corev1.Pod) {
			controllerutil.RequeueWhenAvailable(c.queue, rs, rs.Spec.MinReadySeconds, old, cur)
		},
	}
	_, _ = ownerInf.AddEventHandler(controllerutil.EnqueueHandler(c.queue, c.expectations.Forget))
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: pods.OnAdd,
		UpdateFunc: func(oldObj, curObj any) {
			old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
			if cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil && !labels.Equals(old.Labels, cur.Labels) {
				// Graceful deletion started together with a relabel: the owner the old labels
				// pointed to sees the pod go as well, as upstream's ReplicaSet controller does.
				pods.OnDelete(old)
			}
			pods.OnUpdate(oldObj, curObj)
		},
		DeleteFunc: pods.OnDelete,
	})
}
