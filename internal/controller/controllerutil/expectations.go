package controllerutil

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// ExpectationsTimeout is how long unmet expectations block a sync before they are considered lost
// (a watch event went missing); upstream uses the same five minutes.
const ExpectationsTimeout = 5 * time.Minute

// Expectations remembers, per controller key, how many creations and which deletions the
// controller has issued but not yet seen through its informers. While they are pending the
// controller must not act on its (stale) cache again, or it would create or delete twice.
type Expectations struct {
	mu    sync.Mutex
	items map[string]*expectation
	now   func() time.Time
}

type expectation struct {
	adds      int
	deletes   sets.Set[string] // UIDs
	timestamp time.Time
}

// NewExpectations returns an empty store.
func NewExpectations() *Expectations {
	return &Expectations{items: map[string]*expectation{}, now: time.Now}
}

// Satisfied reports whether key has no pending expectations (or they expired).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		return true
	}
	if x.adds <= 0 && x.deletes.Len() == 0 {
		return true
	}
	return e.now().Sub(x.timestamp) > ExpectationsTimeout
}

// ExpectCreations records that n creations are about to be issued for key, replacing any
// earlier (satisfied or expired) record.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{adds: n, deletes: sets.New[string](), timestamp: e.now()}
}

// ExpectDeletions records that the pods with these UIDs are about to be deleted for key.
func (e *Expectations) ExpectDeletions(key string, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.items[key] = &expectation{deletes: sets.New(uids...), timestamp: e.now()}
}

// CreationObserved lowers key's pending creations by one (an informer saw a new object, or a
// create failed and will never be seen).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// DeletionObserved marks the deletion of uid as seen for key. Seeing the same deletion twice (first
// the deletionTimestamp, then the removal) counts once.
func (e *Expectations) DeletionObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.items[key]; ok {
		x.deletes.Delete(uid)
	}
}

// Forget drops everything recorded for key (the owner was deleted).
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.items, key)
}

// CreationExpected adds one pending creation to key's record (creating one if needed), for
// controllers that create and delete in the same step.
func (e *Expectations) CreationExpected(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.items[key]
	if !ok {
		x = &expectation{deletes: sets.New[string](), timestamp: e.now()}
		e.items[key] = x
	}
	x.adds++
}
