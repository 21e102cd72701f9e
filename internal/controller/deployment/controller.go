// Package deployment implements the Deployment controller: it rolls a Deployment's pod template out
// through ReplicaSets named <deployment>-<pod-template-hash> (RollingUpdate within maxSurge and
// maxUnavailable, or Recreate), keeps the revision annotations `kubectl rollout` reads, cleans up
// old ReplicaSets beyond revisionHistoryLimit and reports progress and availability conditions.
package deployment

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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

var (
	controllerKind = appsv1.SchemeGroupVersion.WithKind("Deployment")
	rsKind         = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

// Controller is the Deployment controller.
type Controller struct {
	client      kubernetes.Interface
	dLister     appslisters.DeploymentLister
	rsLister    appslisters.ReplicaSetLister
	podLister   corelisters.PodLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	now         func() time.Time
}

// New registers the Deployment, ReplicaSet and Pod informers of factory and returns the
// controller. The caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	b, rec := controllerutil.NewEventRecorder("deployment-controller")
	c := &Controller{
		client:      client,
		queue:       controllerutil.NewQueue("deployment"),
		broadcaster: b,
		recorder:    rec,
		now:         time.Now,
	}
	dInf := factory.Apps().V1().Deployments()
	rsInf := factory.Apps().V1().ReplicaSets()
	podInf := factory.Core().V1().Pods()
	c.dLister, c.rsLister, c.podLister = dInf.Lister(), rsInf.Lister(), podInf.Lister()
	c.synced = []cache.InformerSynced{dInf.Informer().HasSynced, rsInf.Informer().HasSynced, podInf.Informer().HasSynced}

	_, _ = dInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	_, _ = rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addReplicaSet,
		UpdateFunc: c.updateReplicaSet,
		DeleteFunc: c.deleteReplicaSet,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run syncs Deployments with `workers` goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.broadcaster, c.client)
	controllerutil.RunWorkers(ctx, "deployment", c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

// ownerOf returns the Deployment a ReplicaSet's controller reference points to, if it exists.
func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.Deployment {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	d, err := c.dLister.Deployments(namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

// enqueueMatching enqueues the Deployments whose selector matches an orphan ReplicaSet.
func (c *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	list, err := c.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range list {
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(rs.Labels)) {
			continue
		}
		c.enqueue(d)
	}
}

func (c *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if ref := metav1.GetControllerOf(rs); ref != nil {
		if d := c.ownerOf(rs.Namespace, ref); d != nil {
			c.enqueue(d)
		}
		return
	}
	c.enqueueMatching(rs)
}

func (c *Controller) updateReplicaSet(oldObj, curObj any) {
	old, cur := oldObj.(*appsv1.ReplicaSet), curObj.(*appsv1.ReplicaSet)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	refChanged := (oldRef == nil) != (curRef == nil) || (oldRef != nil && oldRef.UID != curRef.UID)
	if refChanged && oldRef != nil {
		if d := c.ownerOf(old.Namespace, oldRef); d != nil {
			c.enqueue(d)
		}
	}
	if curRef != nil {
		if d := c.ownerOf(cur.Namespace, curRef); d != nil {
			c.enqueue(d)
		}
		return
	}
	if refChanged || !labels.Equals(old.Labels, cur.Labels) {
		c.enqueueMatching(cur)
	}
}

func (c *Controller) deleteReplicaSet(obj any) {
	rs, ok := controllerutil.Tombstone[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	if d := c.ownerOf(rs.Namespace, metav1.GetControllerOf(rs)); d != nil {
		c.enqueue(d)
	}
}

// deletePod wakes a Recreate Deployment waiting for its old pods to be gone.
func (c *Controller) deletePod(obj any) {
	pod, ok := controllerutil.Tombstone[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != rsKind.Kind {
		return
	}
	rs, err := c.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d := c.ownerOf(rs.Namespace, metav1.GetControllerOf(rs)); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		c.enqueue(d)
	}
}
