package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// ListOptions select what a list returns.
type ListOptions struct {
	// Prefix is relative to the resource ("ns/" for one namespace, "" for all).
	Prefix string
	// ResourceVersion "" is a consistent read, "0" any recent state; other values are at least
	// that revision (NotOlderThan) or exactly it (Exact).
	ResourceVersion string
	Exact           bool
	Predicate       func(runtime.Object) bool
	Limit           int64
	Continue        string
}

// ListResult is one page of a list.
type ListResult struct {
	Items           []*Object
	ResourceVersion int64
	Continue        string
	// Remaining is the number of items after this page when known (no filtering), else nil.
	Remaining *int64
}

type continueToken struct {
	Rev   int64  `json:"rv"`
	Start string `json:"start"`
}

// List returns objects. Pages (limit/continue) and exact-revision reads come from etcd, all other
// lists from the cache after it has caught up with etcd when consistency is asked for.
func (s *Storage) List(ctx context.Context, opts ListOptions) (*ListResult, error) {
	if opts.Continue != "" || opts.Exact || (opts.Limit > 0 && opts.ResourceVersion != "0") {
		return s.listEtcd(ctx, opts)
	}
	switch opts.ResourceVersion {
	case "0":
	case "":
		if err := s.waitConsistent(ctx); err != nil {
			return nil, err
		}
	default:
		rv, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", opts.ResourceVersion))
		}
		if err := s.cache.waitFor(ctx, rv); err != nil {
			return nil, apierrors.NewTimeoutError(err.Error(), 1)
		}
	}
	items, rev := s.cache.list(s.prefix+opts.Prefix, opts.Predicate)
	res := &ListResult{Items: items, ResourceVersion: rev}
	if opts.Limit > 0 && int64(len(items)) > opts.Limit {
		// A limited read of "any recent state": serve the first page from the cache; the rest is
		// read from etcd at the same revision.
		last := items[opts.Limit-1]
		res.Items = items[:opts.Limit]
		res.Continue = encodeContinue(rev, keyAfter(s.keyOf(last.Obj)))
		n := int64(len(items)) - opts.Limit
		res.Remaining = &n
	}
	return res, nil
}

func (s *Storage) keyOf(obj runtime.Object) string {
	type nsName interface {
		GetNamespace() string
		GetName() string
	}
	o := obj.(nsName)
	if ns := o.GetNamespace(); ns != "" {
		return s.prefix + ns + "/" + o.GetName()
	}
	return s.prefix + o.GetName()
}

// waitConsistent returns once the cache reflects every write etcd acknowledged before the call.
func (s *Storage) waitConsistent(ctx context.Context) error {
	if s.consistentFromCache(ctx) {
		return nil
	}
	resp, err := s.cli.Get(ctx, "/skiff/revision-probe")
	if err != nil {
		return storageError(err)
	}
	if err := s.cache.waitFor(ctx, resp.Header.Revision); err != nil {
		return apierrors.NewTimeoutError(err.Error(), 1)
	}
	return nil
}

func keyAfter(key string) string { return key + "\x00" }

func encodeContinue(rev int64, start string) string {
	data, _ := json.Marshal(continueToken{Rev: rev, Start: start})
	return base64.RawURLEncoding.EncodeToString(data)
}

func (s *Storage) listEtcd(ctx context.Context, opts ListOptions) (*ListResult, error) {
	prefix := s.prefix + opts.Prefix
	start := prefix
	var rev int64
	if opts.Continue != "" {
		data, err := base64.RawURLEncoding.DecodeString(opts.Continue)
		var tok continueToken
		if err == nil {
			err = json.Unmarshal(data, &tok)
		}
		if err != nil || !strings.HasPrefix(tok.Start, prefix) {
			return nil, apierrors.NewBadRequest("invalid continue token")
		}
		start, rev = tok.Start, tok.Rev
	} else if opts.Exact || (opts.ResourceVersion != "" && opts.ResourceVersion != "0") {
		r, err := strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", opts.ResourceVersion))
		}
		if opts.Exact {
			rev = r
		}
	}
	end := clientv3.GetPrefixRangeEnd(prefix)
	res := &ListResult{}
	batch := opts.Limit
	if batch <= 0 || batch > 1000 {
		batch = 1000
	}
	for {
		getOpts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(batch + 1)}
		if rev > 0 {
			getOpts = append(getOpts, clientv3.WithRev(rev))
		}
		resp, err := s.cli.Get(ctx, start, getOpts...)
		if err != nil {
			if err == rpctypes.ErrCompacted {
				return nil, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
			}
			if err == rpctypes.ErrFutureRev {
				return nil, apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d", rev), 1)
			}
			return nil, storageError(err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		kvs := resp.Kvs
		more := resp.More || int64(len(kvs)) > batch
		if int64(len(kvs)) > batch {
			kvs = kvs[:batch]
		}
		for i, kv := range kvs {
			obj, err := s.decode(kv.Value, kv.ModRevision)
			if err != nil {
				return nil, err
			}
			if opts.Predicate != nil && !opts.Predicate(obj) {
				continue
			}
			res.Items = append(res.Items, newObject(obj))
			if opts.Limit > 0 && int64(len(res.Items)) == opts.Limit {
				if i < len(kvs)-1 || more {
					res.Continue = encodeContinue(rev, keyAfter(string(kv.Key)))
					if opts.Predicate == nil {
						n := resp.Count - int64(i) - 1
						res.Remaining = &n
					}
				}
				res.ResourceVersion = rev
				return res, nil
			}
		}
		if !more || len(kvs) == 0 {
			break
		}
		start = keyAfter(string(kvs[len(kvs)-1].Key))
	}
	res.ResourceVersion = rev
	return res, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func rvOf(obj runtime.Object) int64 {
	type rv interface{ GetResourceVersion() string }
	if o, ok := obj.(rv); ok {
		n, _ := strconv.ParseInt(o.GetResourceVersion(), 10, 64)
		return n
	}
	return 0
}
