package resourcequota

import (
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestCountedKind(t *testing.T) {
	cases := []struct {
		name corev1.ResourceName
		want schema.GroupResource
		ok   bool
	}{
		{"configmaps", schema.GroupResource{Resource: "configmaps"}, true},
		{"secrets", schema.GroupResource{Resource: "secrets"}, true},
		{"resourcequotas", schema.GroupResource{Resource: "resourcequotas"}, true},
		{"count/deployments.apps", schema.GroupResource{Group: "apps", Resource: "deployments"}, true},
		{"count/widgets.example.com", schema.GroupResource{Group: "example.com", Resource: "widgets"}, true},
		{"count/pods", schema.GroupResource{Resource: "pods"}, true},
		{"requests.cpu", schema.GroupResource{}, false},
		{"pods", schema.GroupResource{}, false}, // counted from the pods themselves
	}
	for _, tc := range cases {
		got, ok := countedKind(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestUntypedKindsSkipWatchedOnes(t *testing.T) {
	c := &Controller{typedKind: map[schema.GroupResource]bool{{Resource: "pods"}: true}}
	one := resource.MustParse("1")
	hard := corev1.ResourceList{"configmaps": one, "count/configmaps": one, "count/pods": one, "count/jobs.batch": one, "requests.cpu": one}
	var got []string
	for _, gr := range c.untypedKinds(hard) {
		got = append(got, gr.String())
	}
	sort.Strings(got)
	if want := []string{"configmaps", "jobs.batch"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
}
