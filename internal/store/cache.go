package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
)

// event is one change of one object as the cache saw it.
type event struct {
	typ  watch.EventType
	key  string
	obj  *Object // the new object, or for deletions the last state with the deletion revision
	prev *Object // the object before the change, nil for creations
	rev  int64
}

// cache mirrors one resource prefix of etcd in memory and keeps a bounded history of events so
// watches can resume from a recent resourceVersion.
type cache struct {
	s        *Storage
	mu       sync.RWMutex
	items    map[string]*Object
	rev      int64         // every event with a revision ≤ rev has been applied
	revCh    chan struct{} // closed and replaced whenever rev advances
	ready    chan struct{}
	history  []event // ring buffer, grown on demand up to limit
	limit    int     // most events the history keeps
	head     int     // index of the oldest event
	size     int
	oldest   int64 // the history covers every event with revision > oldest
	watchers map[*cacheWatcher]struct{}
}

func newCache(s *Storage, history int) *cache {
	if history <= 0 {
		history = 1000
	}
	return &cache{s: s, items: map[string]*Object{}, revCh: make(chan struct{}), ready: make(chan struct{}),
		limit: history, watchers: map[*cacheWatcher]struct{}{}}
}

func (c *cache) start(ctx context.Context) error {
	rev, err := c.load(ctx)
	if err != nil {
		return err
	}
	close(c.ready)
	go c.run(ctx, rev)
	return nil
}

// load replaces the cache content with a fresh list from etcd and returns its revision.
func (c *cache) load(ctx context.Context) (int64, error) {
	resp, err := c.s.cli.Get(ctx, c.s.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list %s for cache: %w", c.s.prefix, err)
	}
	items := make(map[string]*Object, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		obj, err := c.s.decode(kv.Value, kv.ModRevision)
		if err != nil {
			klog.ErrorS(err, "skipping undecodable object", "key", string(kv.Key))
			continue
		}
		items[string(kv.Key)] = newObject(obj)
	}
	c.mu.Lock()
	c.items = items
	c.rev = resp.Header.Revision
	// Watchers cannot resume across a reload: history restarts here.
	c.oldest = resp.Header.Revision
	c.history, c.head, c.size = nil, 0, 0
	for w := range c.watchers {
		w.stopLocked()
	}
	c.advanceLocked()
	c.mu.Unlock()
	return resp.Header.Revision, nil
}

func (c *cache) run(ctx context.Context, rev int64) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := c.s.cli.Watch(wctx, c.s.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV(), clientv3.WithProgressNotify())
		for resp := range wch {
			if err := resp.Err(); err != nil {
				klog.V(2).InfoS("cache watch ended", "prefix", c.s.prefix, "err", err)
				break
			}
			if resp.IsProgressNotify() {
				c.progress(resp.Header.Revision)
				continue
			}
			for _, ev := range resp.Events {
				c.apply(ev)
			}
			if n := len(resp.Events); n > 0 {
				rev = resp.Events[n-1].Kv.ModRevision
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		// The watch broke (compaction, leader loss): relist and continue from the new revision.
		time.Sleep(100 * time.Millisecond)
		newRev, err := c.load(ctx)
		if err != nil {
			klog.ErrorS(err, "cache reload failed", "prefix", c.s.prefix)
			continue
		}
		rev = newRev
	}
}

func (c *cache) progress(rev int64) {
	c.mu.Lock()
	if rev > c.rev {
		c.rev = rev
		c.advanceLocked()
	}
	c.mu.Unlock()
}

func (c *cache) apply(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	e := event{key: key, rev: ev.Kv.ModRevision}
	c.mu.RLock()
	prev := c.items[key]
	c.mu.RUnlock()
	switch ev.Type {
	case mvccpb.PUT:
		obj, err := c.s.decode(ev.Kv.Value, ev.Kv.ModRevision)
		if err != nil {
			klog.ErrorS(err, "skipping undecodable object", "key", key)
			return
		}
		e.obj, e.prev = newObject(obj), prev
		e.typ = watch.Modified
		if prev == nil {
			e.typ = watch.Added
		}
	case mvccpb.DELETE:
		if prev == nil && ev.PrevKv != nil {
			if obj, err := c.s.decode(ev.PrevKv.Value, ev.PrevKv.ModRevision); err == nil {
				prev = newObject(obj)
			}
		}
		if prev == nil {
			return
		}
		gone := prev.Obj.DeepCopyObject()
		_ = setRV(gone, ev.Kv.ModRevision)
		e.typ, e.obj, e.prev = watch.Deleted, newObject(gone), prev
	}
	c.mu.Lock()
	if e.typ == watch.Deleted {
		delete(c.items, key)
	} else {
		c.items[key] = e.obj
	}
	c.appendLocked(e)
	if e.rev > c.rev {
		c.rev = e.rev
	}
	for w := range c.watchers {
		w.sendLocked(e)
	}
	c.advanceLocked()
	c.mu.Unlock()
}

// minHistory is the ring's first size; it doubles from there up to the limit.
const minHistory = 64

func (c *cache) appendLocked(e event) {
	n := len(c.history)
	if c.size == n && n < c.limit {
		// Grown as events come rather than allocated whole: most kinds see few events, and a
		// ring of pointers is scanned by every garbage collection whether it is used or not
		// (allocated whole, the built-in kinds' rings took 12 MiB of every server's heap).
		grown := make([]event, min(max(2*n, minHistory), c.limit))
		for i := 0; i < c.size; i++ {
			grown[i] = c.history[(c.head+i)%n]
		}
		c.history, c.head = grown, 0
		n = len(grown)
	}
	if c.size == n {
		c.oldest = c.history[c.head].rev
		c.history[c.head] = event{}
		c.head = (c.head + 1) % n
		c.size--
	}
	c.history[(c.head+c.size)%n] = e
	c.size++
}

func (c *cache) advanceLocked() {
	close(c.revCh)
	c.revCh = make(chan struct{})
}

// waitFor blocks until the cache has applied every event up to rev.
func (c *cache) waitFor(ctx context.Context, rev int64) error {
	<-c.ready
	requested := false
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.RLock()
		cur, ch := c.rev, c.revCh
		c.mu.RUnlock()
		if cur >= rev {
			return nil
		}
		if !requested {
			// Nothing may change under this prefix for a while: ask etcd to confirm progress.
			requested = true
			if err := c.s.cli.RequestProgress(ctx); err != nil {
				return fmt.Errorf("request watch progress: %w", err)
			}
		}
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			requested = false
		case <-deadline.C:
			return fmt.Errorf("cache of %s did not reach revision %d (at %d)", c.s.prefix, rev, cur)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *cache) get(key string) (*Object, bool) {
	<-c.ready
	c.mu.RLock()
	defer c.mu.RUnlock()
	obj, ok := c.items[key]
	return obj, ok
}

// list returns the objects under prefix (absolute) that pass pred, sorted by key, and the
// revision they represent.
func (c *cache) list(prefix string, pred func(runtime.Object) bool) ([]*Object, int64) {
	<-c.ready
	c.mu.RLock()
	keys := make([]string, 0, len(c.items))
	for k := range c.items {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]*Object, 0, len(keys))
	for _, k := range keys {
		obj := c.items[k]
		if pred == nil || pred(obj.Obj) {
			out = append(out, obj)
		}
	}
	rev := c.rev
	c.mu.RUnlock()
	return out, rev
}
