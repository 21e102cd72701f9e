package controllerutil

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// NewQueue returns the rate-limited key queue every controller here uses.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return NewQueueWithClock(name, nil)
}

// NewQueueWithClock is NewQueue with delays measured on clk (nil: real time), for controllers whose
// tests step a fake clock through requeue delays.
func NewQueueWithClock(name string, clk clock.WithTicker) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: clk},
	)
}

// KeyOf returns the namespace/name key of an informer object, including tombstones.
func KeyOf(obj any) (string, bool) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		runtime.HandleError(fmt.Errorf("getting key of %T: %w", obj, err))
		return "", false
	}
	return key, true
}

// Enqueue adds the key of obj (an informer object or tombstone) to queue.
func Enqueue(queue workqueue.TypedInterface[string], obj any) {
	if key, ok := KeyOf(obj); ok {
		queue.Add(key)
	}
}

// EnqueueHandler returns informer handlers that queue the key of every object added, updated or
// deleted: the handlers of a controller's primary resource. onDelete, if given, runs with the key
// of a deleted object before it is queued, to drop what the controller remembers about it.
func EnqueueHandler(queue workqueue.TypedInterface[string], onDelete ...func(key string)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { Enqueue(queue, obj) },
		UpdateFunc: func(_, cur any) { Enqueue(queue, cur) },
		DeleteFunc: func(obj any) {
			key, ok := KeyOf(obj)
			if !ok {
				return
			}
			for _, f := range onDelete {
				f(key)
			}
			queue.Add(key)
		},
	}
}

// Tombstone unwraps a DeletedFinalStateUnknown from a delete handler into T.
func Tombstone[T any](obj any) (T, bool) {
	if t, ok := obj.(T); ok {
		return t, true
	}
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		t, ok := d.Obj.(T)
		return t, ok
	}
	var zero T
	return zero, false
}
