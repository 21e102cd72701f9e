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

	pods := &controllerutil.OwnedEvents[*corev1.Pod, *appsv1.DaemonSet]{
		Queue:    c.queue,
		OwnerGVK: controllerKind,
		Get:      func(ns, name string) (*appsv1.DaemonSet, error) { return c.dsLister.DaemonSets(ns).Get(name) },
		List: func(ns string) ([]*appsv1.DaemonSet, error) {
			return c.dsLister.DaemonSets(ns).List(labels.Everything())
		},
		Selector:     func(ds *appsv1.DaemonSet) *metav1.LabelSelector { return ds.Spec.Selector },
		Expectations: c.expectations,
		OnOwnedUpdate: func(ds *appsv1.DaemonSet, old, cur *corev1.Pod) {
			controllerutil.RequeueWhenAvailable(c.queue, ds, ds.Spec.MinReadySeconds, old, cur)
		},
	}
	_, _ = dsInf.Informer().AddEventHandler(controllerutil.EnqueueHandler(c.queue, c.expectations.Forget))
	_, _ = podInf.Informer().AddEventHandler(pods.Handler())
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

func (c *Controller) enqueueAll() {
	list, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		controllerutil.Enqueue(c.queue, ds)
	}
}

// nodeChangeMatters ignores heartbeat-only node updates: only what decides eligibility counts.
func nodeChangeMatters(old, cur *corev1.Node) bool {
	return !labels.Equals(old.Labels, cur.Labels) ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		old.Spec.Unschedulable != cur.Spec.Unschedulable
}
