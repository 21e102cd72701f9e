package endpointslice

import (
	"strconv"
	"sync"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// deleted marks a slice this controller deleted and expects to vanish from the cache.
const deleted = 0

// sliceTracker remembers, per Service, the slices this controller wrote in its last sync (by
// name, with the resourceVersion it got back, or deleted). Until the informer shows at least
// those versions, a new sync would work from a cache older than our own writes and create
// duplicate slices or undo updates. skiff's resourceVersions are etcd revisions, so they compare
// as numbers; objects without numeric versions (unit-test fakes) are not tracked.
type sliceTracker struct {
	mu       sync.Mutex
	expected map[string]map[string]uint64 // service key -> slice name -> minimum RV or deleted
}

func newSliceTracker() *sliceTracker {
	return &sliceTracker{expected: map[string]map[string]uint64{}}
}

func (t *sliceTracker) set(svcKey, slice string, v uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expected[svcKey]
	if m == nil {
		m = map[string]uint64{}
		t.expected[svcKey] = m
	}
	m[slice] = v
}

func (t *sliceTracker) expectVersion(svcKey, slice, rv string) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil || n == deleted {
		return
	}
	t.set(svcKey, slice, n)
}

func (t *sliceTracker) expectDeleted(svcKey, slice string) {
	t.set(svcKey, slice, deleted)
}

// observeDeletion drops any expectation about a slice the informer saw deleted (by us or by
// someone else; either way there is nothing left to wait for).
func (t *sliceTracker) observeDeletion(svcKey, slice string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if m := t.expected[svcKey]; m != nil {
		delete(m, slice)
		if len(m) == 0 {
			delete(t.expected, svcKey)
		}
	}
}

func (t *sliceTracker) forgetService(svcKey string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.expected, svcKey)
}

// stale reports whether the cached slices of a Service predate a write this controller made.
func (t *sliceTracker) stale(svcKey string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.expected[svcKey]
	if len(m) == 0 {
		return false
	}
	seen := make(map[string]uint64, len(cached))
	for _, s := range cached {
		n, err := strconv.ParseUint(s.ResourceVersion, 10, 64)
		if err != nil {
			n = ^uint64(0) // unknown: assume current
		}
		seen[s.Name] = n
	}
	for name, want := range m {
		got, present := seen[name]
		switch {
		case want == deleted && present:
			return true
		case want != deleted && (!present || got < want):
			return true
		}
	}
	return false
}
