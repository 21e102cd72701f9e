package job

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestBackoffCountsEachFailureOnce(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	failed := func(uid string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid)}, Status: corev1.PodStatus{Phase: corev1.PodFailed}}
	}
	b := &backoffStore{records: map[string]backoffRecord{}}
	base, maxDelay := 10*time.Second, 6*time.Minute
	b.observe("j", nil, []*corev1.Pod{failed("a")}, now)
	// The same pod seen again (a sync whose status write failed) must not double the delay.
	b.observe("j", nil, []*corev1.Pod{failed("a")}, now)
	if got := b.remaining("j", base, maxDelay, now); got != 10*time.Second {
		t.Fatalf("after one failure: %v, want 10s", got)
	}
	b.observe("j", nil, []*corev1.Pod{failed("b")}, now)
	if got := b.remaining("j", base, maxDelay, now); got != 20*time.Second {
		t.Fatalf("after two failures: %v, want 20s", got)
	}
	for i := range 10 {
		b.observe("j", nil, []*corev1.Pod{failed(string(rune('c' + i)))}, now)
	}
	if got := b.remaining("j", base, maxDelay, now); got != maxDelay {
		t.Fatalf("capped delay %v, want %v", got, maxDelay)
	}
	if got := b.remaining("j", base, maxDelay, now.Add(time.Hour)); got != 0 {
		t.Fatalf("delay after it elapsed: %v", got)
	}
	// A success resets the count.
	b.observe("j", []*corev1.Pod{{}}, nil, now)
	if got := b.remaining("j", base, maxDelay, now); got != 0 {
		t.Fatalf("after a success: %v", got)
	}
}
