package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// watcherBuffer is how many events a slow watcher may fall behind before it is closed; the
// client then resumes from its last resourceVersion (or relists on 410).
const watcherBuffer = 4096

// WatchOptions select what a watch delivers.
type WatchOptions struct {
	// Prefix is relative to the resource ("ns/" for one namespace, "" for all).
	Prefix string
	// ResourceVersion: 0 starts with the current state as ADDED events; N delivers changes after N.
	ResourceVersion int64
	// SendInitialEvents forces the current state first even when ResourceVersion is set.
	SendInitialEvents bool
	// Consistent makes the initial state of a ResourceVersion-0 watch a consistent read (the
	// API's resourceVersion=""), rather than any recent state ("0").
	Consistent bool
	// Predicate filters objects; nil passes all.
	Predicate func(runtime.Object) bool
	// Bookmarks asks for BOOKMARK events carrying the current resourceVersion.
	Bookmarks bool
	// NewObject makes the empty object BOOKMARK events carry.
	NewObject func() runtime.Object
}

// Watcher delivers events until stopped or until it falls too far behind.
type Watcher struct {
	out  chan Event
	stop context.CancelFunc
}

// ResultChan is closed when the watch ends.
func (w *Watcher) ResultChan() <-chan Event { return w.out }

// Stop ends the watch.
func (w *Watcher) Stop() { w.stop() }

// cacheWatcher is one watch's end in the cache. The cache queues its events under the cache's
// lock; the watch's goroutine takes them in batches. The queue grows as needed rather than being
// a channel of watcherBuffer slots: such a channel is allocated whole (96 KiB) for every watch,
// and every garbage collection scans it.
type cacheWatcher struct {
	prefix string
	pred   func(runtime.Object) bool
	ready  chan struct{} // signalled, never blocking, when events are queued or the watch stops

	mu      sync.Mutex // guards queue and stopped: the cache and the watch's goroutine share them
	queue   []Event
	stopped bool
}

func newCacheWatcher(prefix string, pred func(runtime.Object) bool) *cacheWatcher {
	return &cacheWatcher{prefix: prefix, pred: pred, ready: make(chan struct{}, 1)}
}

func (w *cacheWatcher) matches(obj *Object) bool {
	return obj != nil && (w.pred == nil || w.pred(obj.Obj))
}

func (w *cacheWatcher) sendLocked(e event) {
	if w.stopped || !strings.HasPrefix(e.key, w.prefix) {
		return
	}
	var typ watch.EventType
	switch e.typ {
	case watch.Added:
		if !w.matches(e.obj) {
			return
		}
		typ = watch.Added
	case watch.Modified:
		now, before := w.matches(e.obj), w.matches(e.prev)
		switch {
		case now && before:
			typ = watch.Modified
		case now:
			typ = watch.Added
		case before:
			typ = watch.Deleted
		default:
			return
		}
	case watch.Deleted:
		if !w.matches(e.prev) {
			return
		}
		typ = watch.Deleted
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) >= watcherBuffer {
		w.stopQueueLocked()
		return
	}
	w.queue = append(w.queue, Event{Type: typ, Object: e.obj})
	w.signal()
}

func (w *cacheWatcher) signal() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// stopLocked ends the watch once the events already queued are delivered. The cache's lock is held.
func (w *cacheWatcher) stopLocked() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopQueueLocked()
}

func (w *cacheWatcher) stopQueueLocked() {
	if !w.stopped {
		w.stopped = true
		w.signal()
	}
}

// take hands over the queued events, leaving spare (emptied) to queue the next ones in, and
// says whether the watch has stopped: then nothing more will be queued.
func (w *cacheWatcher) take(spare []Event) (batch []Event, stopped bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch, w.queue = w.queue, spare[:0]
	return batch, w.stopped
}

// pending is how many events are queued but not yet taken.
func (w *cacheWatcher) pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// Watch starts a watch served from the cache. A resourceVersion older than the cache's history
// answers 410 Gone, as upstream does, so clients relist.
func (s *Storage) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	c := s.cache
	if opts.ResourceVersion > 0 {
		if err := c.waitFor(ctx, opts.ResourceVersion); err != nil {
			return nil, apierrors.NewTimeoutError(err.Error(), 1)
		}
	} else if opts.Consistent {
		if err := s.waitConsistent(ctx); err != nil {
			return nil, err
		}
	} else {
		<-c.ready
	}
	prefix := s.prefix + opts.Prefix
	w := newCacheWatcher(prefix, opts.Predicate)
	var initial []Event

	c.mu.Lock()
	startRev := c.rev
	if opts.ResourceVersion == 0 || opts.SendInitialEvents {
		for k, obj := range c.items {
			if strings.HasPrefix(k, prefix) && w.matches(obj) {
				initial = append(initial, Event{Type: watch.Added, Object: obj})
			}
		}
	}
	if opts.ResourceVersion > 0 && !opts.SendInitialEvents {
		if opts.ResourceVersion < c.oldest {
			c.mu.Unlock()
			// Older than the cache's history (e.g. just after a restart): etcd still has it
			// unless it was compacted.
			return s.watchEtcd(ctx, prefix, opts)
		}
		n := len(c.history)
		for i := 0; i < c.size; i++ {
			e := c.history[(c.head+i)%n]
			if e.rev > opts.ResourceVersion {
				w.sendLocked(e)
			}
		}
	}
	c.watchers[w] = struct{}{}
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer func() {
			c.mu.Lock()
			delete(c.watchers, w)
			w.stopLocked()
			c.mu.Unlock()
		}()
		for _, e := range initial {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		if opts.SendInitialEvents && opts.Bookmarks && opts.NewObject != nil {
			bm := bookmark(opts.NewObject, startRev, true)
			select {
			case out <- bm:
			case <-ctx.Done():
				return
			}
		}
		var tick <-chan time.Time
		if opts.Bookmarks && opts.NewObject != nil {
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			tick = t.C
		}
		lastRev := startRev
		var spare []Event
		for {
			select {
			case <-w.ready:
				batch, stopped := w.take(spare)
				for i, e := range batch {
					if rv := rvOf(e.Object.Obj); rv > lastRev {
						lastRev = rv
					}
					select {
					case out <- e:
					case <-ctx.Done():
						return
					}
					batch[i] = Event{} // the queue's next use must not keep the object alive
				}
				if stopped {
					return
				}
				spare = nil
				if cap(batch) <= 256 { // a burst's large array is not kept for the quiet after it
					spare = batch
				}
			case <-tick:
				// Everything up to the cache's revision has been queued under the lock, but may
				// not be forwarded yet; only bookmark once the queue is drained.
				c.mu.RLock()
				rev, pending := c.rev, w.pending()
				c.mu.RUnlock()
				if pending == 0 && rev >= lastRev {
					lastRev = rev
					select {
					case out <- bookmark(opts.NewObject, rev, false):
					case <-ctx.Done():
						return
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return &Watcher{out: out, stop: cancel}, nil
}

func bookmark(newObj func() runtime.Object, rev int64, initialEnd bool) Event {
	obj := newObj()
	_ = setRV(obj, rev)
	if initialEnd {
		if acc, ok := obj.(metav1.Object); ok {
			acc.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
		}
	}
	return Event{Type: watch.Bookmark, Object: newObject(obj)}
}

// watchEtcd serves a watch from etcd's own history, for resourceVersions older than the cache's.
func (s *Storage) watchEtcd(ctx context.Context, prefix string, opts WatchOptions) (*Watcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	wch := s.cli.Watch(clientv3.WithRequireLeader(ctx), prefix, clientv3.WithPrefix(), clientv3.WithRev(opts.ResourceVersion+1), clientv3.WithPrevKV())
	// The first response tells whether the revision was compacted; wait for it or for events.
	first, ok := <-wch
	if !ok {
		cancel()
		return nil, apierrors.NewTimeoutError("watch ended before it started", 1)
	}
	if first.CompactRevision != 0 || first.Err() == rpctypes.ErrCompacted {
		cancel()
		return nil, apierrors.NewResourceExpired("too old resource version: " + itoa(opts.ResourceVersion) + " (" + itoa(first.CompactRevision) + ")")
	}
	if err := first.Err(); err != nil {
		cancel()
		return nil, storageError(err)
	}
	pred := func(o *Object) bool { return o != nil && (opts.Predicate == nil || opts.Predicate(o.Obj)) }
	out := make(chan Event, 64)
	go func() {
		defer close(out)
		defer cancel()
		resp := first
		for {
			for _, ev := range resp.Events {
				var obj, prev *Object
				if ev.PrevKv != nil {
					if p, err := s.decode(ev.PrevKv.Value, ev.PrevKv.ModRevision); err == nil {
						prev = newObject(p)
					}
				}
				typ := watch.Modified
				if ev.Type == mvccpb.DELETE {
					if prev == nil {
						continue
					}
					gone := prev.Obj.DeepCopyObject()
					_ = setRV(gone, ev.Kv.ModRevision)
					obj, typ = newObject(gone), watch.Deleted
				} else {
					o, err := s.decode(ev.Kv.Value, ev.Kv.ModRevision)
					if err != nil {
						continue
					}
					obj = newObject(o)
					if ev.IsCreate() {
						typ, prev = watch.Added, nil
					}
				}
				now, before := pred(obj), pred(prev)
				switch {
				case typ == watch.Deleted && before:
				case typ == watch.Deleted:
					continue
				case now && before:
				case now:
					typ = watch.Added
				case before:
					typ = watch.Deleted
				default:
					continue
				}
				select {
				case out <- Event{Type: typ, Object: obj}:
				case <-ctx.Done():
					return
				}
			}
			var ok bool
			select {
			case resp, ok = <-wch:
				if !ok || resp.Err() != nil {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return &Watcher{out: out, stop: cancel}, nil
}
