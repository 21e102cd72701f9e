package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{Selector: webSelector(), Template: minimalTemplate()}}
}

func TestDaemonSetDefaultsAndTemplateGeneration(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "daemonsets")
	ds := newDaemonSet()
	if errs := create(s, ds); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || *ru.MaxUnavailable != intstr.FromInt32(1) ||
		*ru.MaxSurge != intstr.FromInt32(0) || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Errorf("defaults = %+v", ds.Spec)
	}
	if got := ds.Annotations[templateGenerationAnnotation]; got != "1" {
		t.Errorf("template generation = %q, want 1", got)
	}

	// Re-sending the same manifest (without defaults) keeps the generation.
	same := newDaemonSet()
	checkErrors(t, update(s, same, ds))
	if got := same.Annotations[templateGenerationAnnotation]; got != "1" {
		t.Errorf("unchanged template: generation = %q, want 1", got)
	}
	changed := ds.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	checkErrors(t, update(s, changed, ds))
	if got := changed.Annotations[templateGenerationAnnotation]; got != "2" {
		t.Errorf("changed template: generation = %q, want 2", got)
	}
}

func TestDaemonSetValidation(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "daemonsets")
	tests := []struct {
		name   string
		mutate func(*appsv1.DaemonSet)
		want   []string
	}{
		{"valid", func(*appsv1.DaemonSet) {}, nil},
		{"empty selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} }, []string{"Invalid spec.selector"}},
		{"no selector", func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil },
			[]string{"Required spec.selector", "Invalid spec.template.metadata.labels"}},
		{"surge and unavailable", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(1)), MaxSurge: new(intstr.FromInt32(1))}
		}, []string{"Invalid spec.updateStrategy.rollingUpdate.maxSurge"}},
		{"neither surge nor unavailable", func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: new(intstr.FromInt32(0)), MaxSurge: new(intstr.FromString("0%"))}
		}, []string{"Required spec.updateStrategy.rollingUpdate.maxUnavailable"}},
		{"unknown strategy", func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: "Sometimes"} },
			[]string{"NotSupported spec.updateStrategy.type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds := newDaemonSet()
			tc.mutate(ds)
			checkErrors(t, create(s, ds), tc.want...)
		})
	}

	old := newDaemonSet()
	create(s, old)
	moved := old.DeepCopy()
	moved.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "v": "2"}}
	moved.Spec.Template.Labels["v"] = "2"
	checkErrors(t, update(s, moved, old), "Invalid spec.selector")
}
