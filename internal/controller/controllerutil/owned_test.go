package controllerutil

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
)

func TestOwnedEvents(t *testing.T) {
	gvk := appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
	owner := func(name string, app string) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name + "-uid")},
			Spec:       appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
		}
	}
	owners := []*appsv1.ReplicaSet{owner("web", "web"), owner("db", "db"), owner("web2", "web")}
	pod := func(rv, app string, controller *appsv1.ReplicaSet, mutate ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "p-uid", ResourceVersion: rv,
			Labels: map[string]string{"app": app}}}
		if controller != nil {
			p.OwnerReferences = []metav1.OwnerReference{NewControllerRef(controller, gvk)}
		}
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) }
	ready := func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	stale := func(p *corev1.Pod) { p.OwnerReferences[0].UID = "old-uid" }

	tests := []struct {
		name         string
		expectations bool
		event        func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet])
		want         []string
		wantExpect   bool // expectations of ns/web satisfied afterwards
		wantOnUpdate int
	}{
		{name: "owned pod added", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnAdd(pod("1", "web", owners[0]))
		}, want: []string{"ns/web"}},
		{name: "orphan added wakes every matching owner", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnAdd(pod("1", "web", nil))
		}, want: []string{"ns/web", "ns/web2"}},
		{name: "reference to a replaced owner", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnAdd(pod("1", "web", owners[0], stale))
		}},
		{name: "resync", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnUpdate(pod("1", "web", owners[0]), pod("1", "web", owners[0]))
		}},
		{name: "controller changed wakes old and new owner", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnUpdate(pod("1", "web", owners[0]), pod("2", "web", owners[1]))
		}, want: []string{"ns/db", "ns/web"}, wantOnUpdate: 1},
		{name: "released pod is offered for adoption", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnUpdate(pod("1", "db", owners[1]), pod("2", "web", nil))
		}, want: []string{"ns/db", "ns/web", "ns/web2"}},
		{name: "orphan relabelled", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnUpdate(pod("1", "web", nil), pod("2", "db", nil))
		}, want: []string{"ns/db"}},
		{name: "orphan unchanged labels", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnUpdate(pod("1", "web", nil), pod("2", "web", nil, ready))
		}},
		{name: "deleted tombstone", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: pod("1", "web", owners[0])})
		}, want: []string{"ns/web"}},
		{name: "creation observed", expectations: true, event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.Expectations.ExpectCreations("ns/web", 1)
			h.OnAdd(pod("1", "web", owners[0]))
		}, want: []string{"ns/web"}, wantExpect: true},
		{name: "terminating pod added counts as deleted", expectations: true, event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.Expectations.ExpectDeletions("ns/web", []string{"p-uid"})
			h.OnAdd(pod("1", "web", owners[0], terminating))
		}, want: []string{"ns/web"}, wantExpect: true},
		{name: "graceful deletion started counts as deleted", expectations: true, event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.Expectations.ExpectDeletions("ns/web", []string{"p-uid"})
			h.OnUpdate(pod("1", "web", owners[0]), pod("2", "web", owners[0], terminating))
		}, want: []string{"ns/web"}, wantExpect: true},
		{name: "graceful deletion without expectations is an update", event: func(h *OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]) {
			h.OnUpdate(pod("1", "web", owners[0]), pod("2", "web", owners[0], terminating))
		}, want: []string{"ns/web"}, wantOnUpdate: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queue := NewQueue("test")
			defer queue.ShutDown()
			onUpdate := 0
			h := &OwnedEvents[*corev1.Pod, *appsv1.ReplicaSet]{
				Queue:    queue,
				OwnerGVK: gvk,
				Get: func(ns, name string) (*appsv1.ReplicaSet, error) {
					for _, o := range owners {
						if o.Namespace == ns && o.Name == name {
							return o, nil
						}
					}
					return nil, fmt.Errorf("%s/%s not found", ns, name)
				},
				List:          func(string) ([]*appsv1.ReplicaSet, error) { return owners, nil },
				Selector:      func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector },
				OnOwnedUpdate: func(*appsv1.ReplicaSet, *corev1.Pod, *corev1.Pod) { onUpdate++ },
			}
			if tt.expectations {
				h.Expectations = NewExpectations()
			}
			tt.event(h)
			var got []string
			for queue.Len() > 0 {
				key, _ := queue.Get()
				got = append(got, key)
				queue.Done(key)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("queued %v, want %v", got, tt.want)
			}
			if tt.wantExpect && !h.Expectations.Satisfied("ns/web") {
				t.Error("expectations of ns/web not satisfied")
			}
			if onUpdate != tt.wantOnUpdate {
				t.Errorf("OnOwnedUpdate ran %d times, want %d", onUpdate, tt.wantOnUpdate)
			}
		})
	}
}

// delayRecorder records AddAfter calls; nothing else of the queue is used.
type delayRecorder struct {
	workqueue.TypedDelayingInterface[string]
	delays map[string]time.Duration
}

func (r *delayRecorder) AddAfter(key string, d time.Duration) { r.delays[key] = d }

func TestRequeueWhenAvailable(t *testing.T) {
	ready := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}}
	notReady := &corev1.Pod{}
	owner := &metav1.ObjectMeta{Namespace: "ns", Name: "web"}
	tests := []struct {
		name     string
		minReady int32
		old, cur *corev1.Pod
		want     map[string]time.Duration
	}{
		// One second more than minReadySeconds, so the pod is surely available by then.
		{"became ready", 5, notReady, ready, map[string]time.Duration{"ns/web": 6 * time.Second}},
		{"no minReadySeconds", 0, notReady, ready, map[string]time.Duration{}},
		{"was ready already", 5, ready, ready, map[string]time.Duration{}},
		{"became unready", 5, ready, notReady, map[string]time.Duration{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			queue := &delayRecorder{delays: map[string]time.Duration{}}
			RequeueWhenAvailable(queue, owner, tt.minReady, tt.old, tt.cur)
			if !maps.Equal(queue.delays, tt.want) {
				t.Errorf("requeued %v, want %v", queue.delays, tt.want)
			}
		})
	}
}
