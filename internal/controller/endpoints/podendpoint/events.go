package podendpoint

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// PodEvents turns pod informer events into the keys of the Services that select the pod: those
// whose endpoints the pod is, was, or could become part of.
type PodEvents struct {
	Services corelisters.ServiceLister
	Queue    workqueue.TypedInterface[string] // service keys
}

// Handler returns the informer handlers for pods.
func (e PodEvents) Handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: e.OnAdd, UpdateFunc: e.OnUpdate, DeleteFunc: e.OnDelete}
}

// OnAdd queues the Services selecting a new pod.
func (e PodEvents) OnAdd(obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		e.enqueueServicesOf(pod)
	}
}

// OnUpdate queues the Services selecting the pod when anything its endpoints are built from
// changed; after a relabel, those that selected it before as well.
func (e PodEvents) OnUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*corev1.Pod)
	newPod, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || oldPod.ResourceVersion == newPod.ResourceVersion {
		return
	}
	labelsChanged := !maps.Equal(oldPod.Labels, newPod.Labels)
	if !labelsChanged && !endpointRelevantChange(oldPod, newPod) {
		return
	}
	e.enqueueServicesOf(newPod)
	if labelsChanged {
		e.enqueueServicesOf(oldPod)
	}
}

// OnDelete queues the Services selecting a deleted pod (or tombstone).
func (e PodEvents) OnDelete(obj any) {
	if pod, ok := controllerutil.Tombstone[*corev1.Pod](obj); ok {
		e.enqueueServicesOf(pod)
	}
}

// enqueueServicesOf queues every Service of pod's namespace whose selector matches pod.
func (e PodEvents) enqueueServicesOf(pod *corev1.Pod) {
	svcs, err := e.Services.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, svc := range svcs {
		if Selects(svc, pod) {
			e.Queue.Add(svc.Namespace + "/" + svc.Name)
		}
	}
}

// endpointRelevantChange reports whether anything an endpoint is built from changed.
func endpointRelevantChange(a, b *corev1.Pod) bool {
	return a.Status.PodIP != b.Status.PodIP ||
		!slices.Equal(a.Status.PodIPs, b.Status.PodIPs) ||
		IsPodReady(a) != IsPodReady(b) ||
		(a.DeletionTimestamp == nil) != (b.DeletionTimestamp == nil) ||
		a.Status.Phase != b.Status.Phase ||
		a.Spec.NodeName != b.Spec.NodeName ||
		a.Spec.Hostname != b.Spec.Hostname ||
		a.Spec.Subdomain != b.Spec.Subdomain
}
