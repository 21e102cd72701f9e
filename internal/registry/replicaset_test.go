package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func newReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: meta("web-abc"), Spec: appsv1.ReplicaSetSpec{Selector: webSelector(), Template: minimalTemplate()}}
}

func TestReplicaSet(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "replicasets")
	rs := newReplicaSet()
	if errs := create(s, rs); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if *rs.Spec.Replicas != 1 || rs.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("not defaulted: %+v", rs.Spec)
	}

	tests := []struct {
		name   string
		mutate func(*appsv1.ReplicaSet)
		want   []string
	}{
		{"empty selector", func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = &metav1.LabelSelector{} }, []string{"Invalid spec.selector"}},
		{"mismatch", func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil }, []string{"Invalid spec.template.metadata.labels"}},
		{"negative min ready", func(rs *appsv1.ReplicaSet) { rs.Spec.MinReadySeconds = -1 }, []string{"Invalid spec.minReadySeconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := newReplicaSet()
			tc.mutate(rs)
			checkErrors(t, create(s, rs), tc.want...)
		})
	}

	changed := rs.DeepCopy()
	changed.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "x": "y"}}
	changed.Spec.Template.Labels["x"] = "y"
	checkErrors(t, update(s, changed, rs), "Invalid spec.selector")

	rs.Status.Replicas = 3
	if got, want := s.FieldSet(rs), (fields.Set{"status.replicas": "3"}); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}
