// Package statefulset implements the StatefulSet controller: pods with stable ordinal names
// <set>-<i>, created and removed in order (OrderedReady) or all at once (Parallel), each with its
// PersistentVolumeClaims from volumeClaimTemplates, and rolled out from the highest ordinal down to
// the partition, with the template history kept in ControllerRevisions.
package statefulset

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

var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Controller is the StatefulSet controller.
type Controller struct {
	client      kubernetes.Interface
	setLister   appslisters.StatefulSetLister
	podLister   corelisters.PodLister
	revLister   appslisters.ControllerRevisionLister
	pvcLister   corelisters.PersistentVolumeClaimLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string]
	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	now         func() time.Time
}

// New registers the StatefulSet, Pod, ControllerRevision and PersistentVolumeClaim informers of
// factory and returns the controller. The caller starts the factory.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	b, rec := controllerutil.NewEventRecorder("statefulset-controller")
	c := &Controller{
		client:      client,
		queue:       controllerutil.NewQueue("statefulset"),
		broadcaster: b,
		recorder:    rec,
		now:         time.Now,
	}
	setInf := factory.Apps().V1().StatefulSets()
	podInf := factory.Core().V1().Pods()
	revInf := factory.Apps().V1().ControllerRevisions()
	pvcInf := factory.Core().V1().PersistentVolumeClaims()
	c.setLister, c.podLister, c.revLister, c.pvcLister = setInf.Lister(), podInf.Lister(), revInf.Lister(), pvcInf.Lister()
	c.synced = []cache.InformerSynced{setInf.Informer().HasSynced, podInf.Informer().HasSynced,
		revInf.Informer().HasSynced, pvcInf.Informer().HasSynced}

	pods := &controllerutil.OwnedEvents[*corev1.Pod, *appsv1.StatefulSet]{
		Queue:    c.queue,
		OwnerGVK: controllerKind,
		Get:      func(ns, name string) (*appsv1.StatefulSet, error) { return c.setLister.StatefulSets(ns).Get(name) },
		List: func(ns string) ([]*appsv1.StatefulSet, error) {
			return c.setLister.StatefulSets(ns).List(labels.Everything())
		},
		Selector: func(set *appsv1.StatefulSet) *metav1.LabelSelector { return set.Spec.Selector },
		Adopts:   func(set *appsv1.StatefulSet, pod *corev1.Pod) bool { return isMemberOf(set, pod) },
		OnOwnedUpdate: func(set *appsv1.StatefulSet, old, cur *corev1.Pod) {
			controllerutil.RequeueWhenAvailable(c.queue, set, set.Spec.MinReadySeconds, old, cur)
		},
	}
	_, _ = setInf.Informer().AddEventHandler(controllerutil.EnqueueHandler(c.queue))
	_, _ = podInf.Informer().AddEventHandler(pods.Handler())
	return c
}

// Run syncs StatefulSets with `workers` goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.broadcaster, c.client)
	controllerutil.RunWorkers(ctx, "statefulset", c.queue, workers, c.sync, c.synced...)
}
