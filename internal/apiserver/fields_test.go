package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/skiff-sh/skiff/internal/registry"
)

func TestObjectFieldsSelectors(t *testing.T) {
	var pods *registry.Resource
	for _, r := range registry.Builtin() {
		if r.Group == "" && r.Resource == "pods" {
			pods = r
		}
	}
	if pods == nil {
		t.Fatal("no pods resource")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	cases := []struct {
		selector string
		want     bool
	}{
		{"metadata.name=web", true},
		{"metadata.name=db", false},
		{"metadata.namespace=default,metadata.name=web", true},
		{"spec.nodeName=n1", true},
		{"spec.nodeName=n2", false},
		{"status.phase!=Running", false},
		{"status.phase!=Pending,metadata.name=web", true},
		{"spec.nodeName=", false},
	}
	for _, tc := range cases {
		sel, err := fields.ParseSelector(tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		if got := sel.Matches(&objectFields{acc: pod, obj: pod, st: pods.Strategy}); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.selector, got, tc.want)
		}
	}
}
