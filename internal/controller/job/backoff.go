package job

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// backoffRecord is what the back-off before replacing a failed pod is computed from: the number
// of consecutive failures since the last success and when the latest of them happened.
type backoffRecord struct {
	failures    int
	lastFailure time.Time
	// seen holds the failed pods already counted: a sync whose status write fails sees the same
	// pods as new again and must not count them twice.
	seen map[types.UID]struct{}
}

// backoffStore holds one record per Job key.
type backoffStore struct {
	mu      sync.Mutex
	records map[string]backoffRecord
}

// observe updates the record of key with newly finished pods: a success resets the count, each
// failure extends it.
func (b *backoffStore) observe(key string, succeeded, failed []*corev1.Pod, now time.Time) {
	if len(succeeded) == 0 && len(failed) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.records[key]
	if r.seen == nil {
		r.seen = map[types.UID]struct{}{}
	}
	if len(succeeded) > 0 {
		r.failures, r.lastFailure = 0, time.Time{}
	}
	for _, p := range failed {
		if _, dup := r.seen[p.UID]; dup {
			continue
		}
		r.seen[p.UID] = struct{}{}
		r.failures++
		if t := finishTime(p, now); t.After(r.lastFailure) {
			r.lastFailure = t
		}
	}
	b.records[key] = r
}

// remaining returns how long from now new pods must wait: base * 2^(failures-1) after the last
// failure, capped at maxDelay.
func (b *backoffStore) remaining(key string, base, maxDelay time.Duration, now time.Time) time.Duration {
	b.mu.Lock()
	r, ok := b.records[key]
	b.mu.Unlock()
	if !ok || r.failures == 0 {
		return 0
	}
	delay := base
	for i := 1; i < r.failures && delay < maxDelay; i++ {
		delay *= 2
	}
	delay = min(delay, maxDelay)
	return max(r.lastFailure.Add(delay).Sub(now), 0)
}

func (b *backoffStore) forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.records, key)
}

// finishTime is when a failed pod stopped: the latest container termination, else now.
func finishTime(p *corev1.Pod, now time.Time) time.Time {
	var latest time.Time
	for _, st := range p.Status.ContainerStatuses {
		if t := st.State.Terminated; t != nil && t.FinishedAt.After(latest) {
			latest = t.FinishedAt.Time
		}
	}
	if latest.IsZero() || latest.After(now) {
		return now
	}
	return latest
}
