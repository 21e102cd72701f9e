package controllerutil

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// NewQueue returns the rate-limited key queue every controller here uses.
func NewQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name},
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

// RunWorkers waits for the caches, then processes keys from queue with `workers` goroutines until
// ctx is done, calling sync for each. A failing key is retried with the queue's backoff; a
// succeeding one has its backoff forgotten. It shuts the queue down and returns when all workers
// have stopped.
func RunWorkers(ctx context.Context, name string, queue workqueue.TypedRateLimitingInterface[string], workers int,
	syncKey func(ctx context.Context, key string) error, synced ...cache.InformerSynced) {
	defer queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", name)
	if !cache.WaitForNamedCacheSync(name, ctx.Done(), synced...) {
		return
	}
	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for processNext(ctx, name, logger, queue, syncKey) {
			}
		})
	}
	wg.Wait()
}

func processNext(ctx context.Context, name string, logger klog.Logger, queue workqueue.TypedRateLimitingInterface[string],
	syncKey func(ctx context.Context, key string) error) bool {
	key, quit := queue.Get()
	if quit {
		return false
	}
	defer queue.Done(key)
	if err := syncKey(ctx, key); err != nil {
		switch {
		case ctx.Err() != nil:
		case apierrors.IsConflict(err):
			// Routine under concurrency: our cache was behind; the retry sees the new version.
			logger.V(4).Info("sync conflicted, retrying", "key", key, "err", err)
		default:
			runtime.HandleErrorWithContext(ctx, err, "sync failed, retrying", "controller", name, "key", key)
		}
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	return true
}
