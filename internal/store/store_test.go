package store

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/etcd"
)

type cmCodec struct{}

func (cmCodec) Encode(obj runtime.Object) ([]byte, error) { return json.Marshal(obj) }
func (cmCodec) Decode(data []byte) (runtime.Object, error) {
	cm := &corev1.ConfigMap{}
	return cm, json.Unmarshal(data, cm)
}

func newTestStorage(t *testing.T, history int) (*Storage, *etcd.Backend) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	be, err := etcd.Start(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	// Cleanups run last-in first-out: stop the cache before etcd.
	t.Cleanup(be.Close)
	t.Cleanup(cancel)
	s := New(be.Client, "/registry/configmaps/", corev1.Resource("configmaps"), cmCodec{}, history)
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s, be
}

func cm(ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestCreateGetUpdateConflict(t *testing.T) {
	ctx := context.Background()
	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprintf("singleWriter=%v", single), func(t *testing.T) {
			s, _ := newTestStorage(t, 100)
			s.SetSingleWriter(single)
			created, err := s.Create(ctx, "ns/a", cm("ns", "a"), Reservations{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Create(ctx, "ns/a", cm("ns", "a"), Reservations{}); !apierrors.IsAlreadyExists(err) {
				t.Fatalf("second create: %v, want AlreadyExists", err)
			}
			got, err := s.Get(ctx, "ns/a")
			if err != nil || got.(*corev1.ConfigMap).ResourceVersion != created.(*corev1.ConfigMap).ResourceVersion {
				t.Fatalf("get after create: %v %v", got, err)
			}
			out, action, err := s.Update(ctx, "ns/a", func(cur runtime.Object) (runtime.Object, Action, Reservations, error) {
				c := cur.(*corev1.ConfigMap)
				c.Data = map[string]string{"k": "v"}
				return c, Put, Reservations{}, nil
			})
			if err != nil || action != Put || out.(*corev1.ConfigMap).Data["k"] != "v" {
				t.Fatalf("update: %v %v %v", out, action, err)
			}
			// A read right after the write reply sees the write.
			got, _ = s.Get(ctx, "ns/a")
			if got.(*corev1.ConfigMap).Data["k"] != "v" {
				t.Fatal("read after write missed the write")
			}
			if _, _, err := s.Update(ctx, "ns/missing", func(cur runtime.Object) (runtime.Object, Action, Reservations, error) {
				return cur, Put, Reservations{}, nil
			}); !apierrors.IsNotFound(err) {
				t.Fatalf("update of missing: %v", err)
			}
			if _, action, err := s.Update(ctx, "ns/a", func(cur runtime.Object) (runtime.Object, Action, Reservations, error) {
				return cur, Delete, Reservations{}, nil
			}); err != nil || action != Delete {
				t.Fatalf("delete: %v %v", action, err)
			}
			if _, err := s.Get(ctx, "ns/a"); !apierrors.IsNotFound(err) {
				t.Fatalf("get after delete: %v", err)
			}
		})
	}
}

func TestReservationsAreAtomic(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStorage(t, 100)
	if _, err := s.Create(ctx, "ns/a", cm("ns", "a"), Reservations{Claim: []string{"/registry/ranges/x/1"}}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, "ns/b", cm("ns", "b"), Reservations{Claim: []string{"/registry/ranges/x/1"}})
	if _, ok := err.(*ReservationConflictError); !ok {
		t.Fatalf("claim of a taken key: %v, want ReservationConflictError", err)
	}
	if _, err := s.Get(ctx, "ns/b"); !apierrors.IsNotFound(err) {
		t.Fatalf("object of a failed claim was stored: %v", err)
	}
}

func TestListPagingAndFiltering(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStorage(t, 100)
	for i := 0; i < 25; i++ {
		ns := "a"
		if i%5 == 0 {
			ns = "b"
		}
		if _, err := s.Create(ctx, fmt.Sprintf("%s/cm-%02d", ns, i), cm(ns, fmt.Sprintf("cm-%02d", i)), Reservations{}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		opts  ListOptions
		total int
	}{
		{"all from cache", ListOptions{}, 25},
		{"namespace", ListOptions{Prefix: "b/"}, 5},
		{"paged", ListOptions{Limit: 7}, 25},
		{"paged any-version", ListOptions{Limit: 7, ResourceVersion: "0"}, 25},
		{"paged with predicate", ListOptions{Limit: 3, Predicate: func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Namespace == "b" }}, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			opts := tc.opts
			pages := 0
			for {
				res, err := s.List(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if opts.Limit > 0 && int64(len(res.Items)) > opts.Limit {
					t.Fatalf("page of %d items over limit %d", len(res.Items), opts.Limit)
				}
				for _, it := range res.Items {
					c := it.Obj.(*corev1.ConfigMap)
					if seen[c.Namespace+"/"+c.Name] {
						t.Fatalf("%s listed twice", c.Name)
					}
					seen[c.Namespace+"/"+c.Name] = true
				}
				if res.Continue == "" {
					break
				}
				opts.Continue = res.Continue
				opts.ResourceVersion = ""
			}
			if len(seen) != tc.total {
				t.Fatalf("listed %d objects in %d pages, want %d", len(seen), pages, tc.total)
			}
		})
	}
	if _, err := s.List(ctx, ListOptions{Continue: "garbage"}); !apierrors.IsBadRequest(err) {
		t.Fatalf("bad continue token: %v", err)
	}
}

func recv(t *testing.T, w *Watcher) Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return Event{}
}

func TestWatchResumeOldVersionsAndCompaction(t *testing.T) {
	ctx := context.Background()
	s, be := newTestStorage(t, 3)
	first, _ := s.Create(ctx, "ns/a", cm("ns", "a"), Reservations{})
	rv0 := rvOf(first)
	for i := 0; i < 10; i++ {
		if _, err := s.Create(ctx, fmt.Sprintf("ns/x%d", i), cm("ns", fmt.Sprintf("x%d", i)), Reservations{}); err != nil {
			t.Fatal(err)
		}
	}
	// rv0 is older than the cache's 3-event history: served from etcd's history, in order.
	w, err := s.Watch(ctx, WatchOptions{ResourceVersion: rv0})
	if err != nil {
		t.Fatalf("watch from an old version: %v", err)
	}
	for i := 0; i < 10; i++ {
		ev := recv(t, w)
		if ev.Type != watch.Added || ev.Object.Obj.(*corev1.ConfigMap).Name != fmt.Sprintf("x%d", i) {
			t.Fatalf("event %d: %s %s", i, ev.Type, ev.Object.Obj.(*corev1.ConfigMap).Name)
		}
	}
	w.Stop()
	// After compaction the same version answers 410 Gone.
	last, _ := s.Create(ctx, "ns/z", cm("ns", "z"), Reservations{})
	if _, err := be.Client.Compact(ctx, rvOf(last)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watch(ctx, WatchOptions{ResourceVersion: rv0}); !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
		t.Fatalf("watch from a compacted version: %v, want 410", err)
	}
	// A recent version resumes from the cache; predicates turn label changes into ADDED/DELETED.
	w, err = s.Watch(ctx, WatchOptions{ResourceVersion: rvOf(last), Prefix: "ns/",
		Predicate: func(o runtime.Object) bool { return o.(*corev1.ConfigMap).Labels["sel"] == "yes" }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	setLabel := func(v string) {
		if _, _, err := s.Update(ctx, "ns/a", func(cur runtime.Object) (runtime.Object, Action, Reservations, error) {
			c := cur.(*corev1.ConfigMap)
			c.Labels = map[string]string{"sel": v}
			return c, Put, Reservations{}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setLabel("yes")
	if ev := recv(t, w); ev.Type != watch.Added {
		t.Fatalf("label now matches: got %s, want ADDED", ev.Type)
	}
	setLabel("no")
	if ev := recv(t, w); ev.Type != watch.Deleted {
		t.Fatalf("label stops matching: got %s, want DELETED", ev.Type)
	}
}

func TestWatchInitialEventsAndBookmarks(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStorage(t, 100)
	for i := 0; i < 3; i++ {
		if _, err := s.Create(ctx, fmt.Sprintf("ns/c%d", i), cm("ns", fmt.Sprintf("c%d", i)), Reservations{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.Watch(ctx, WatchOptions{SendInitialEvents: true, Consistent: true, Bookmarks: true, NewObject: func() runtime.Object { return &corev1.ConfigMap{} }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i := 0; i < 3; i++ {
		if ev := recv(t, w); ev.Type != watch.Added {
			t.Fatalf("initial event %d: %s", i, ev.Type)
		}
	}
	ev := recv(t, w)
	if ev.Type != watch.Bookmark || ev.Object.Obj.(*corev1.ConfigMap).Annotations[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("after initial events: %s %+v, want the initial-events-end BOOKMARK", ev.Type, ev.Object.Obj)
	}
	if _, err := s.Create(ctx, "ns/late", cm("ns", "late"), Reservations{}); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, w); ev.Type != watch.Added {
		t.Fatalf("live event: %s", ev.Type)
	}
	// The periodic bookmark carries the current revision.
	if ev := recv(t, w); ev.Type != watch.Bookmark || rvOf(ev.Object.Obj) == 0 {
		t.Fatalf("periodic bookmark: %s", ev.Type)
	}
}
