package controllerutil

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// WaitForCaches blocks until every informer in synced has synced (true) or ctx is done (false).
// name identifies the controller in the log lines about the wait.
func WaitForCaches(ctx context.Context, name string, synced ...cache.InformerSynced) bool {
	return cache.WaitForNamedCacheSync(name, ctx.Done(), synced...)
}

// Workers is the loop every controller here runs around its queue: wait for the caches, then
// let a pool of goroutines take keys from Queue and reconcile each with Sync until ctx is done.
type Workers struct {
	// Name identifies the controller (or the queue, for controllers with several) in logs.
	Name  string
	Queue workqueue.TypedRateLimitingInterface[string]
	// Sync reconciles one key. A key whose sync fails is retried with the queue's backoff; one
	// that succeeds has its backoff forgotten.
	Sync func(ctx context.Context, key string) error
	// Synced are the informers that must have synced before the first key is processed.
	Synced []cache.InformerSynced
	// LogError, if set, reports a failed sync instead of the default (conflicts at V(4), anything
	// else as an error). It is not called once ctx is done: failures then are the shutdown's.
	LogError func(logger klog.Logger, key string, err error)
}

// RunWorkers runs Workers{Name: name, Queue: queue, Sync: syncKey, Synced: synced} with
// `workers` goroutines; see Workers.Run.
func RunWorkers(ctx context.Context, name string, queue workqueue.TypedRateLimitingInterface[string], workers int,
	syncKey func(ctx context.Context, key string) error, synced ...cache.InformerSynced) {
	Workers{Name: name, Queue: queue, Sync: syncKey, Synced: synced}.Run(ctx, workers)
}

// Run waits for the caches, then processes keys with `workers` goroutines (at least one) until
// ctx is done. It shuts the queue down and returns when all workers have stopped.
func (w Workers) Run(ctx context.Context, workers int) {
	defer w.Queue.ShutDown()
	logger := klog.FromContext(ctx).WithValues("controller", w.Name)
	if !WaitForCaches(ctx, w.Name, w.Synced...) {
		return
	}
	go func() {
		<-ctx.Done()
		w.Queue.ShutDown()
	}()
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for w.processNext(ctx, logger) {
			}
		})
	}
	wg.Wait()
}

// processNext syncs one key; it reports false once the queue is shut down.
func (w Workers) processNext(ctx context.Context, logger klog.Logger) bool {
	key, quit := w.Queue.Get()
	if quit {
		return false
	}
	defer w.Queue.Done(key)
	if err := w.Sync(ctx, key); err != nil {
		if ctx.Err() == nil {
			w.logError(ctx, logger, key, err)
		}
		w.Queue.AddRateLimited(key)
		return true
	}
	w.Queue.Forget(key)
	return true
}

func (w Workers) logError(ctx context.Context, logger klog.Logger, key string, err error) {
	switch {
	case w.LogError != nil:
		w.LogError(logger, key, err)
	case apierrors.IsConflict(err):
		// Routine under concurrency: our cache was behind; the retry sees the new version.
		logger.V(4).Info("sync conflicted, retrying", "key", key, "err", err)
	default:
		runtime.HandleErrorWithContext(ctx, err, "sync failed, retrying", "controller", w.Name, "key", key)
	}
}
