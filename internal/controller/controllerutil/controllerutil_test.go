package controllerutil

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestExpectations(t *testing.T) {
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	e := NewExpectations()
	e.now = func() time.Time { return clock }
	if !e.Satisfied("k") {
		t.Fatal("unknown key not satisfied")
	}
	e.ExpectCreations("k", 2)
	e.CreationObserved("k")
	if e.Satisfied("k") {
		t.Fatal("satisfied with one creation pending")
	}
	e.CreationObserved("k")
	if !e.Satisfied("k") {
		t.Fatal("not satisfied after all creations")
	}
	e.ExpectDeletions("k", []string{"a", "b"})
	e.DeletionObserved("k", "a")
	e.DeletionObserved("k", "a") // terminating, then gone: counts once
	if e.Satisfied("k") {
		t.Fatal("satisfied with b pending")
	}
	clock = clock.Add(ExpectationsTimeout + time.Second)
	if !e.Satisfied("k") {
		t.Fatal("expired expectations still block")
	}
	e.Forget("k")
	e.CreationExpected("k")
	if e.Satisfied("k") {
		t.Fatal("CreationExpected not recorded")
	}
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		name      string
		count     int
		failAfter int64 // calls beyond this fail
		wantOK    int
		wantCalls int64
	}{
		{"all succeed", 10, 100, 10, 10},
		{"first fails", 10, 0, 0, 1},
		{"fails in third batch", 20, 4, 4, 7}, // batches 1,2,4: of calls 4..7 only the 4th succeeds
		{"nothing to do", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			ok, err := SlowStartBatch(context.Background(), tt.count, 1, func(context.Context) error {
				if calls.Add(1) > tt.failAfter {
					return errors.New("boom")
				}
				return nil
			})
			if ok != tt.wantOK || calls.Load() != tt.wantCalls || (err != nil) != (tt.wantOK != tt.count) {
				t.Errorf("ok=%d calls=%d err=%v, want ok=%d calls=%d", ok, calls.Load(), err, tt.wantOK, tt.wantCalls)
			}
		})
	}
}

func TestPodAvailability(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	readySince := func(d time.Duration) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d))}}}}
	}
	if !IsPodAvailable(readySince(0), 0, now) || IsPodAvailable(readySince(5*time.Second), 10, now) || !IsPodAvailable(readySince(10*time.Second), 10, now) {
		t.Error("availability against minReadySeconds wrong")
	}
	if d := UntilAvailable(readySince(4*time.Second), 10, now); d != 6*time.Second {
		t.Errorf("UntilAvailable = %v", d)
	}
	if IsPodAvailable(&corev1.Pod{}, 0, now) {
		t.Error("pod without Ready condition available")
	}
	terminating := readySince(time.Hour)
	terminating.DeletionTimestamp = ptr.To(metav1.NewTime(now))
	if IsPodActive(terminating) || !IsPodActive(readySince(0)) {
		t.Error("IsPodActive wrong")
	}
}

func TestClaim(t *testing.T) {
	owner := &metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "owner"}
	gvk := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}
	pod := func(name string, lbl string, ref *metav1.OwnerReference) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			Labels: map[string]string{"app": lbl}}}
		if ref != nil {
			p.OwnerReferences = []metav1.OwnerReference{*ref}
		}
		return p
	}
	mine := NewControllerRef(owner, gvk)
	theirs := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: "other", Controller: ptr.To(true)}
	pods := []*corev1.Pod{
		pod("owned", "web", &mine),
		pod("orphan", "web", nil),
		pod("leaving", "db", &mine),
		pod("foreign", "web", &theirs),
		pod("stranger", "db", nil),
	}
	patched := map[string][]metav1.OwnerReference{}
	m := &RefManager{
		Owner: owner, OwnerGVK: gvk, Selector: labels.SelectorFromSet(labels.Set{"app": "web"}),
		Patch: func(_ context.Context, _, name string, patch []byte) error {
			var body struct {
				Metadata struct {
					OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(patch, &body); err != nil {
				return err
			}
			patched[name] = body.Metadata.OwnerReferences
			return nil
		},
	}
	got, err := Claim(context.Background(), m, pods)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if len(names) != 2 || names[0] != "owned" || names[1] != "orphan" {
		t.Errorf("claimed %v, want owned and orphan", names)
	}
	if refs := patched["orphan"]; len(refs) != 1 || refs[0].UID != "owner" || !*refs[0].Controller {
		t.Errorf("orphan adopted with %v", refs)
	}
	if refs, ok := patched["leaving"]; !ok || len(refs) != 0 {
		t.Errorf("non-matching pod not released: %v", patched)
	}
	if len(patched) != 2 {
		t.Errorf("patched %v, want only orphan and leaving", patched)
	}

	// An owner being deleted adopts nothing and releases nothing.
	dying := *owner
	dying.DeletionTimestamp = ptr.To(metav1.Now())
	m2 := &RefManager{Owner: &dying, OwnerGVK: gvk, Selector: m.Selector, Patch: func(context.Context, string, string, []byte) error {
		t.Error("patched for a dying owner")
		return nil
	}}
	if got, _ := Claim(context.Background(), m2, pods); len(got) != 1 {
		t.Errorf("dying owner claimed %d pods, want its one matching pod", len(got))
	}

	// CanAdopt refusing stops adoption.
	m3 := &RefManager{Owner: owner, OwnerGVK: gvk, Selector: m.Selector, CanAdopt: func(context.Context) error { return errors.New("gone") },
		Patch: func(context.Context, string, string, []byte) error { return nil }}
	if _, err := Claim(context.Background(), m3, []*corev1.Pod{pod("orphan", "web", nil)}); err == nil {
		t.Error("adopted although CanAdopt refused")
	}
}

func TestHashAndTemplatePatch(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i:1"}}}}
	h1, h2 := HashObject(tmpl, nil), HashObject(tmpl.DeepCopy(), nil)
	if h1 != h2 || h1 == HashObject(tmpl, ptr.To[int32](1)) || h1 == "" {
		t.Errorf("hash not stable or not salted: %q %q", h1, h2)
	}
	other := tmpl.DeepCopy()
	other.Spec.Containers[0].Image = "i:2"
	if HashObject(other, nil) == h1 {
		t.Error("different templates hash alike")
	}
	data, err := TemplatePatch(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	var patch map[string]map[string]map[string]any
	if err := json.Unmarshal(data, &patch); err != nil {
		t.Fatal(err)
	}
	if patch["spec"]["template"]["$patch"] != "replace" || patch["spec"]["template"]["spec"] == nil {
		t.Errorf("revision data %s", data)
	}
}
