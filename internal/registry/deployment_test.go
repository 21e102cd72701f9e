package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{Selector: webSelector(), Template: minimalTemplate()}}
}

func TestDeploymentDefaults(t *testing.T) {
	d := newDeployment()
	if errs := create(strategyOf(t, "apps", "v1", "deployments"), d); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	spec := d.Spec
	ru := spec.Strategy.RollingUpdate
	switch {
	case *spec.Replicas != 1:
		t.Errorf("replicas = %d", *spec.Replicas)
	case spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType:
		t.Errorf("strategy = %s", spec.Strategy.Type)
	case ru == nil || *ru.MaxUnavailable != intstr.FromString("25%") || *ru.MaxSurge != intstr.FromString("25%"):
		t.Errorf("rollingUpdate = %+v", ru)
	case *spec.RevisionHistoryLimit != 10:
		t.Errorf("revisionHistoryLimit = %d", *spec.RevisionHistoryLimit)
	case *spec.ProgressDeadlineSeconds != 600:
		t.Errorf("progressDeadlineSeconds = %d", *spec.ProgressDeadlineSeconds)
	case spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent:
		t.Errorf("template not defaulted: %+v", spec.Template.Spec)
	}

	recreate := newDeployment()
	recreate.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	strategyOf(t, "apps", "v1", "deployments").Default(recreate)
	if recreate.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate deployment got a rollingUpdate: %+v", recreate.Spec.Strategy)
	}
}

func TestDeploymentValidation(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "deployments")
	tests := []struct {
		name   string
		mutate func(*appsv1.Deployment)
		want   []string
	}{
		{"valid", func(*appsv1.Deployment) {}, nil},
		{"no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			[]string{"Required spec.selector", "Invalid spec.template.metadata.labels"}},
		{"empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, []string{"Invalid spec.selector"}},
		{"selector does not match", func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "other"} },
			[]string{"Invalid spec.template.metadata.labels"}},
		{"bad selector", func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}
		}, []string{"Invalid spec.selector.matchExpressions[0].operator", "Invalid spec.selector"}},
		{"negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(-1)) }, []string{"Invalid spec.replicas"}},
		{"template errors", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			[]string{"Required spec.template.spec.containers[0].image"}},
		{"template restart policy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"NotSupported spec.template.spec.restartPolicy"}},
		{"template deadline", func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(10)) },
			[]string{"Forbidden spec.template.spec.activeDeadlineSeconds"}},
		{"recreate with rolling update", func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}, []string{"Forbidden spec.strategy.rollingUpdate"}},
		{"unknown strategy", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, []string{"NotSupported spec.strategy.type"}},
		{"zero surge and unavailable", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: new(intstr.FromInt32(0)), MaxSurge: new(intstr.FromString("0%"))}
		}, []string{"Invalid spec.strategy.rollingUpdate.maxUnavailable"}},
		{"bad percentages", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: new(intstr.FromString("150%")), MaxSurge: new(intstr.FromString("abc"))}
		}, []string{"Invalid spec.strategy.rollingUpdate.maxUnavailable", "Invalid spec.strategy.rollingUpdate.maxSurge"}},
		{"deadline below min ready", func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds = 30
			d.Spec.ProgressDeadlineSeconds = new(int32(30))
		}, []string{"Invalid spec.progressDeadlineSeconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment()
			tc.mutate(d)
			checkErrors(t, create(s, d), tc.want...)
		})
	}
}

func TestDeploymentSelectorIsImmutable(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "deployments")
	old := newDeployment()
	create(s, old)
	d := old.DeepCopy()
	d.Spec.Selector.MatchLabels["tier"] = "front"
	d.Spec.Template.Labels["tier"] = "front"
	errs := update(s, d, old)
	checkErrors(t, errs, "Invalid spec.selector")
	checkDetail(t, errs, "spec.selector", "field is immutable")

	scaled := old.DeepCopy()
	scaled.Spec.Replicas = new(int32(5))
	scaled.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	checkErrors(t, update(s, scaled, old))
}
