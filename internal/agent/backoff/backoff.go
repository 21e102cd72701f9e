// Package backoff holds the per-container restart back-off behind
// CrashLoopBackOff and ImagePullBackOff: the delay starts at Initial, doubles
// on each retry up to Max, and resets after the container stays up (or no
// retry happens) for twice Max.
package backoff

import (
	"sync"
	"time"
)

// Backoff tracks delays per key (pod UID + container name + spec hash).
type Backoff struct {
	Initial, Max time.Duration

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	delay   time.Duration
	lastTry time.Time
}

// New returns a back-off with the kubelet's defaults for container restarts
// (10 s doubling to 5 min) when initial and max are zero.
func New(initial, max time.Duration) *Backoff {
	if initial == 0 {
		initial = 10 * time.Second
	}
	if max == 0 {
		max = 5 * time.Minute
	}
	return &Backoff{Initial: initial, Max: max, entries: map[string]*entry{}}
}

// InBackoff reports whether key must still wait after an event at since
// (the container's exit), and how long remains.
func (b *Backoff) InBackoff(key string, since, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return false, 0
	}
	if now.Sub(e.lastTry) > 2*b.Max {
		delete(b.entries, key)
		return false, 0
	}
	wait := e.delay - now.Sub(since)
	if wait > 0 {
		return true, wait
	}
	return false, 0
}

// Delay is key's current delay (0 when it has none).
func (b *Backoff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// Next records a retry at now and grows key's delay.
func (b *Backoff) Next(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || now.Sub(e.lastTry) > 2*b.Max {
		b.entries[key] = &entry{delay: b.Initial, lastTry: now}
		return
	}
	e.delay = min(e.delay*2, b.Max)
	e.lastTry = now
}

// Forget drops every key with the given prefix (a removed pod's UID).
func (b *Backoff) Forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
