package store

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

func TestHistoryGrowsThenEvictsOldest(t *testing.T) {
	tests := []struct {
		name       string
		limit      int
		events     int
		wantLen    int // ring size after the events
		wantRevs   []int64
		wantOldest int64 // every event after this revision is kept
	}{
		{name: "none", limit: 100, events: 0, wantLen: 0, wantRevs: nil, wantOldest: 0},
		{name: "first ring", limit: 1000, events: 3, wantLen: minHistory, wantRevs: []int64{1, 2, 3}, wantOldest: 0},
		{name: "doubles", limit: 1000, events: minHistory + 1, wantLen: 2 * minHistory, wantRevs: revs(1, minHistory+1), wantOldest: 0},
		{name: "stops at the limit", limit: 100, events: 100, wantLen: 100, wantRevs: revs(1, 100), wantOldest: 0},
		{name: "full ring drops the oldest", limit: 100, events: 250, wantLen: 100, wantRevs: revs(151, 250), wantOldest: 150},
		{name: "limit below the first ring", limit: 5, events: 7, wantLen: 5, wantRevs: revs(3, 7), wantOldest: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(nil, tt.limit)
			for r := int64(1); r <= int64(tt.events); r++ {
				c.appendLocked(event{rev: r})
			}
			if len(c.history) != tt.wantLen {
				t.Errorf("ring size %d, want %d", len(c.history), tt.wantLen)
			}
			var got []int64
			for i := 0; i < c.size; i++ {
				got = append(got, c.history[(c.head+i)%len(c.history)].rev)
			}
			if !slices.Equal(got, tt.wantRevs) {
				t.Errorf("history %v, want %v", got, tt.wantRevs)
			}
			if c.oldest != tt.wantOldest {
				t.Errorf("oldest %d, want %d", c.oldest, tt.wantOldest)
			}
		})
	}
}

func revs(from, to int64) []int64 {
	var r []int64
	for i := from; i <= to; i++ {
		r = append(r, i)
	}
	return r
}

func TestWatcherQueueStopsWhenTooFarBehind(t *testing.T) {
	tests := []struct {
		name        string
		sent        int
		wantQueued  int
		wantStopped bool
	}{
		{name: "within the buffer", sent: 10, wantQueued: 10, wantStopped: false},
		{name: "exactly the buffer", sent: watcherBuffer, wantQueued: watcherBuffer, wantStopped: false},
		{name: "past the buffer", sent: watcherBuffer + 5, wantQueued: watcherBuffer, wantStopped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCacheWatcher("/registry/configmaps/", nil)
			for i := 1; i <= tt.sent; i++ {
				w.sendLocked(event{typ: watch.Added, key: "/registry/configmaps/default/a", obj: &Object{}, rev: int64(i)})
			}
			select {
			case <-w.ready:
			default:
				t.Fatal("no signal after queueing")
			}
			batch, stopped := w.take(nil)
			if len(batch) != tt.wantQueued || stopped != tt.wantStopped {
				t.Fatalf("took %d events, stopped %v; want %d, %v", len(batch), stopped, tt.wantQueued, tt.wantStopped)
			}
			if w.pending() != 0 {
				t.Fatalf("%d events still pending after take", w.pending())
			}
		})
	}
}

func TestWatcherFiltersByPrefixAndPredicate(t *testing.T) {
	onlyB := func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Name == "b" }
	a := &Object{Obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}}
	b := &Object{Obj: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}}
	tests := []struct {
		name string
		e    event
		want watch.EventType // "" for nothing delivered
	}{
		{name: "added, matches", e: event{typ: watch.Added, key: "/p/ns/b", obj: b}, want: watch.Added},
		{name: "added, filtered", e: event{typ: watch.Added, key: "/p/ns/a", obj: a}, want: ""},
		{name: "other prefix", e: event{typ: watch.Added, key: "/q/ns/b", obj: b}, want: ""},
		{name: "modified into the selection", e: event{typ: watch.Modified, key: "/p/ns/x", obj: b, prev: a}, want: watch.Added},
		{name: "modified out of the selection", e: event{typ: watch.Modified, key: "/p/ns/x", obj: a, prev: b}, want: watch.Deleted},
		{name: "modified within", e: event{typ: watch.Modified, key: "/p/ns/x", obj: b, prev: b}, want: watch.Modified},
		{name: "modified outside", e: event{typ: watch.Modified, key: "/p/ns/x", obj: a, prev: a}, want: ""},
		{name: "deleted, matched before", e: event{typ: watch.Deleted, key: "/p/ns/b", obj: b, prev: b}, want: watch.Deleted},
		{name: "deleted, filtered", e: event{typ: watch.Deleted, key: "/p/ns/a", obj: a, prev: a}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCacheWatcher("/p/", onlyB)
			w.sendLocked(tt.e)
			batch, _ := w.take(nil)
			var got watch.EventType
			if len(batch) == 1 {
				got = batch[0].Type
			} else if len(batch) > 1 {
				t.Fatalf("%d events for one change", len(batch))
			}
			if got != tt.want {
				t.Fatalf("delivered %q, want %q", got, tt.want)
			}
		})
	}
}
