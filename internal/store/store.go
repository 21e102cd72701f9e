// Package store keeps API objects in etcd under /registry and serves reads and watches from an
// in-memory cache fed by an etcd watch, so lists and watches do not load etcd.
//
// Objects returned by a Storage may be shared with its cache: callers must DeepCopy before mutating.
package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Codec turns stored bytes into objects and back.
type Codec interface {
	Encode(obj runtime.Object) ([]byte, error)
	Decode(data []byte) (runtime.Object, error)
}

// Storage is the etcd-backed store of one resource: all keys under one prefix.
type Storage struct {
	cli    *clientv3.Client
	prefix string // absolute, ends in "/"
	codec  Codec
	gr     schema.GroupResource
	cache  *cache
	// singleWriter means this process is etcd's only writer (embedded etcd): the cache then
	// serves consistent reads once it has applied the last write this process made.
	singleWriter bool
	written      atomic.Int64 // highest revision this process wrote under the prefix
}

// Reservations are extra keys written in the same transaction as an object (e.g. an allocated
// ClusterIP), so a conflict on any of them fails the whole write and nothing is half-written.
type Reservations struct {
	// Claim keys must not exist; they are created holding the object's key.
	Claim []string
	// Release keys are deleted.
	Release []string
}

// New returns the storage for gr under prefix ("/registry/pods/"). Start must be called before reads.
func New(cli *clientv3.Client, prefix string, gr schema.GroupResource, codec Codec, history int) *Storage {
	s := &Storage{cli: cli, prefix: prefix, codec: codec, gr: gr}
	s.cache = newCache(s, history)
	return s
}

// SetSingleWriter declares that no other process writes this resource's keys in etcd.
func (s *Storage) SetSingleWriter(v bool) { s.singleWriter = v }

func (s *Storage) noteWrite(rev int64) {
	for {
		cur := s.written.Load()
		if rev <= cur || s.written.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// consistentFromCache waits until the cache holds every write this process made, when that
// suffices for a consistent read; it reports whether the cache may be used.
func (s *Storage) consistentFromCache(ctx context.Context) bool {
	if !s.singleWriter {
		return false
	}
	return s.cache.waitFor(ctx, s.written.Load()) == nil
}

// Start fills the cache and keeps it in step with etcd until ctx ends.
func (s *Storage) Start(ctx context.Context) error { return s.cache.start(ctx) }

// Prefix returns the absolute etcd prefix of this resource.
func (s *Storage) Prefix() string { return s.prefix }

func (s *Storage) decode(data []byte, rev int64) (runtime.Object, error) {
	obj, err := s.codec.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("decode %s object: %w", s.gr, err)
	}
	if err := setRV(obj, rev); err != nil {
		return nil, err
	}
	return obj, nil
}

func (s *Storage) encode(obj runtime.Object) ([]byte, error) {
	// The resourceVersion is the etcd revision; it is never stored in the value.
	acc, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := acc.GetResourceVersion()
	acc.SetResourceVersion("")
	data, err := s.codec.Encode(obj)
	acc.SetResourceVersion(rv)
	if err != nil {
		return nil, fmt.Errorf("encode %s object: %w", s.gr, err)
	}
	return data, nil
}

func setRV(obj runtime.Object, rev int64) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	acc.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

func nameOf(key string) string {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[i+1:]
		}
	}
	return key
}

// Create writes obj at key (relative: "ns/name" or "name") if nothing is there
// and returns it with its resourceVersion set. obj becomes the store's: the
// caller uses the returned object only (no copy is made per create).
func (s *Storage) Create(ctx context.Context, key string, obj runtime.Object, res Reservations) (runtime.Object, error) {
	data, err := s.encode(obj)
	if err != nil {
		return nil, err
	}
	abs := s.prefix + key
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(abs), "=", 0)}
	ops := []clientv3.Op{clientv3.OpPut(abs, string(data))}
	cmps, ops = addReservations(cmps, ops, abs, res)
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return nil, storageError(err)
	}
	if !resp.Succeeded {
		if err := s.reservationConflict(ctx, abs, res); err != nil {
			return nil, err
		}
		return nil, apierrors.NewAlreadyExists(s.gr, nameOf(key))
	}
	s.noteWrite(resp.Header.Revision)
	if err := setRV(obj, resp.Header.Revision); err != nil {
		return nil, err
	}
	return obj, nil
}

// ReservationConflictError names a claimed key that was already taken.
type ReservationConflictError struct{ Key, Holder string }

func (e *ReservationConflictError) Error() string {
	return fmt.Sprintf("%s is already allocated to %s", e.Key, e.Holder)
}

func (s *Storage) reservationConflict(ctx context.Context, abs string, res Reservations) error {
	for _, k := range res.Claim {
		r, err := s.cli.Get(ctx, k)
		if err != nil {
			return storageError(err)
		}
		if len(r.Kvs) > 0 && string(r.Kvs[0].Value) != abs {
			return &ReservationConflictError{Key: k, Holder: string(r.Kvs[0].Value)}
		}
	}
	return nil
}

func addReservations(cmps []clientv3.Cmp, ops []clientv3.Op, abs string, res Reservations) ([]clientv3.Cmp, []clientv3.Op) {
	for _, k := range res.Claim {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(k), "=", 0))
		ops = append(ops, clientv3.OpPut(k, abs))
	}
	for _, k := range res.Release {
		ops = append(ops, clientv3.OpDelete(k))
	}
	return cmps, ops
}

// Get is a consistent read of key: from the cache when that is consistent, else from etcd.
func (s *Storage) Get(ctx context.Context, key string) (runtime.Object, error) {
	if s.consistentFromCache(ctx) {
		return s.GetCached(key)
	}
	return s.getFromEtcd(ctx, key)
}

// GetObject is Get returning the stored object with its cached encodings, so a reader that
// writes the object out as stored encodes it once per version, not once per read. cached
// allows a read from the cache that may lag etcd slightly (resourceVersion "0").
func (s *Storage) GetObject(ctx context.Context, key string, cached bool) (*Object, error) {
	if cached || s.consistentFromCache(ctx) {
		return s.cachedObject(key)
	}
	obj, err := s.getFromEtcd(ctx, key)
	if err != nil {
		return nil, err
	}
	return newObject(obj), nil
}

// GetCached reads key from the cache, which may lag etcd slightly (resourceVersion "0" reads).
func (s *Storage) GetCached(key string) (runtime.Object, error) {
	o, err := s.cachedObject(key)
	if err != nil {
		return nil, err
	}
	return o.Obj, nil
}

func (s *Storage) cachedObject(key string) (*Object, error) {
	if o, ok := s.cache.get(s.prefix + key); ok {
		return o, nil
	}
	return nil, apierrors.NewNotFound(s.gr, nameOf(key))
}

func (s *Storage) getFromEtcd(ctx context.Context, key string) (runtime.Object, error) {
	resp, err := s.cli.Get(ctx, s.prefix+key)
	if err != nil {
		return nil, storageError(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NewNotFound(s.gr, nameOf(key))
	}
	return s.decode(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// Action says what an update function wants done with the object it returns.
type Action int

const (
	// Put writes the returned object.
	Put Action = iota
	// Delete removes the object (e.g. its last finalizer was removed while it was being deleted).
	Delete
	// Keep writes nothing: the object is unchanged.
	Keep
)

// UpdateFunc computes the next state of an object from its current one (a private copy).
type UpdateFunc func(current runtime.Object) (next runtime.Object, action Action, res Reservations, err error)

// errRetry is returned internally when the object changed between read and write.
var errRetry = errors.New("object changed, retry")

// Update reads key, applies fn and writes the result only if nothing changed meanwhile, retrying
// on races. fn sees a private copy it may modify. A NotFound is returned when key is absent.
func (s *Storage) Update(ctx context.Context, key string, fn UpdateFunc) (runtime.Object, Action, error) {
	abs := s.prefix + key
	for attempt := 0; ; attempt++ {
		var cur runtime.Object
		var rev int64
		// The first attempt reads the cache when it is consistent; the write's compare on the
		// modification revision catches any staleness, and retries read etcd.
		if attempt == 0 && s.consistentFromCache(ctx) {
			o, ok := s.cache.get(abs)
			if !ok {
				return nil, Keep, apierrors.NewNotFound(s.gr, nameOf(key))
			}
			cur = o.Obj.DeepCopyObject()
			rev = rvOf(cur)
		} else {
			resp, err := s.cli.Get(ctx, abs)
			if err != nil {
				return nil, Keep, storageError(err)
			}
			if len(resp.Kvs) == 0 {
				return nil, Keep, apierrors.NewNotFound(s.gr, nameOf(key))
			}
			kv := resp.Kvs[0]
			if cur, err = s.decode(kv.Value, kv.ModRevision); err != nil {
				return nil, Keep, err
			}
			rev = kv.ModRevision
		}
		next, action, res, err := fn(cur)
		if err != nil {
			return nil, Keep, err
		}
		out, err := s.commit(ctx, abs, rev, next, action, res)
		if errors.Is(err, errRetry) {
			if attempt > 100 {
				return nil, Keep, apierrors.NewConflict(s.gr, nameOf(key), fmt.Errorf("too many concurrent writers"))
			}
			continue
		}
		if err != nil {
			return nil, Keep, err
		}
		if action == Keep {
			return cur, Keep, nil
		}
		return out, action, nil
	}
}

func (s *Storage) commit(ctx context.Context, abs string, rev int64, next runtime.Object, action Action, res Reservations) (runtime.Object, error) {
	if action == Keep {
		return next, nil
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(abs), "=", rev)}
	var ops []clientv3.Op
	if action == Delete {
		ops = append(ops, clientv3.OpDelete(abs))
	} else {
		data, err := s.encode(next)
		if err != nil {
			return nil, err
		}
		ops = append(ops, clientv3.OpPut(abs, string(data)))
	}
	cmps, ops = addReservations(cmps, ops, abs, res)
	resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return nil, storageError(err)
	}
	if !resp.Succeeded {
		if err := s.reservationConflict(ctx, abs, res); err != nil {
			return nil, err
		}
		return nil, errRetry
	}
	s.noteWrite(resp.Header.Revision)
	out := next.DeepCopyObject()
	if err := setRV(out, resp.Header.Revision); err != nil {
		return nil, err
	}
	return out, nil
}

func storageError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeoutError(fmt.Sprintf("storage request: %v", err), 1)
	}
	return apierrors.NewInternalError(fmt.Errorf("storage: %w", err))
}
