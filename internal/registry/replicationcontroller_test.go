package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
)

func TestReplicationController(t *testing.T) {
	s := strategyOf(t, "", "v1", "replicationcontrollers")
	tmpl := minimalTemplate()
	rc := &corev1.ReplicationController{ObjectMeta: meta("web"), Spec: corev1.ReplicationControllerSpec{Template: &tmpl}}
	if errs := create(s, rc); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	want := map[string]string{"app": "web"}
	if !apiequality.Semantic.DeepEqual(rc.Spec.Selector, want) || !apiequality.Semantic.DeepEqual(rc.Labels, want) || *rc.Spec.Replicas != 1 {
		t.Errorf("defaults: selector %v labels %v replicas %d", rc.Spec.Selector, rc.Labels, *rc.Spec.Replicas)
	}

	tests := []struct {
		name   string
		mutate func(*corev1.ReplicationController)
		want   []string
	}{
		{"no template", func(rc *corev1.ReplicationController) {
			rc.Spec.Template = nil
			rc.Spec.Selector = map[string]string{"app": "web"}
		},
			[]string{"Required spec.template"}},
		{"no selector and unlabeled template", func(rc *corev1.ReplicationController) { rc.Spec.Template.Labels = nil },
			[]string{"Required spec.selector"}},
		{"mismatch", func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"app": "db"} },
			[]string{"Invalid spec.template.metadata.labels"}},
		{"restart policy", func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		},
			[]string{"NotSupported spec.template.spec.restartPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := minimalTemplate()
			rc := &corev1.ReplicationController{ObjectMeta: meta("web"), Spec: corev1.ReplicationControllerSpec{Template: &tmpl}}
			tc.mutate(rc)
			checkErrors(t, create(s, rc), tc.want...)
		})
	}

	rc.Status.Replicas = 2
	if got := s.FieldSet(rc); !apiequality.Semantic.DeepEqual(got, fields.Set{"status.replicas": "2"}) {
		t.Errorf("fields = %v", got)
	}
}
