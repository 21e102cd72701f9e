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
	rsEvents    *controllerutil.OwnedEvents[*appsv1.ReplicaSet, *appsv1.Deployment]
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

	c.rsEvents = &controllerutil.OwnedEvents[*appsv1.ReplicaSet, *appsv1.Deployment]{
		Queue:    c.queue,
		OwnerGVK: controllerKind,
		Get:      func(ns, name string) (*appsv1.Deployment, error) { return c.dLister.Deployments(ns).Get(name) },
		List: func(ns string) ([]*appsv1.Deployment, error) {
			return c.dLister.Deployments(ns).List(labels.Everything())
		},
		Selector: func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector },
	}
	_, _ = dInf.Informer().AddEventHandler(controllerutil.EnqueueHandler(c.queue))
	_, _ = rsInf.Informer().AddEventHandler(c.rsEvents.Handler())
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
	if d, ok := c.rsEvents.Owner(rs.Namespace, metav1.GetControllerOf(rs)); ok && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		controllerutil.Enqueue(c.queue, d)
	}
}
