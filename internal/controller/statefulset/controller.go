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

	_, _ = setInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
		DeleteFunc: c.enqueue,
	})
	_, _ = podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run syncs StatefulSets with `workers` goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.broadcaster, c.client)
	controllerutil.RunWorkers(ctx, "statefulset", c.queue, workers, c.sync, c.synced...)
}

func (c *Controller) enqueue(obj any) {
	if key, ok := controllerutil.KeyOf(obj); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) ownerOf(namespace string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	set, err := c.setLister.StatefulSets(namespace).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	sets, err := c.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, set := range sets {
		sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) || !isMemberOf(set, pod) {
			continue
		}
		c.enqueue(set)
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if ref := metav1.GetControllerOf(pod); ref != nil {
		if set := c.ownerOf(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOf(old), metav1.GetControllerOf(cur)
	refChanged := (oldRef == nil) != (curRef == nil) || (oldRef != nil && oldRef.UID != curRef.UID)
	if refChanged && oldRef != nil {
		if set := c.ownerOf(old.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.ownerOf(cur.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		if set.Spec.MinReadySeconds > 0 && !controllerutil.IsPodReady(old) && controllerutil.IsPodReady(cur) {
			key, _ := controllerutil.KeyOf(set)
			c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second+time.Second)
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
	if set := c.ownerOf(pod.Namespace, metav1.GetControllerOf(pod)); set != nil {
		c.enqueue(set)
	}
}
