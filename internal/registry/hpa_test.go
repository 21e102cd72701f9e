package registry

import (
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func newHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta("web"), Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    5,
	}}
}

func TestHPADefaults(t *testing.T) {
	s := strategyOf(t, "autoscaling", "v2", "horizontalpodautoscalers")
	hpa := newHPA()
	checkErrors(t, create(s, hpa))
	m := hpa.Spec.Metrics
	if *hpa.Spec.MinReplicas != 1 || len(m) != 1 || m[0].Resource.Name != corev1.ResourceCPU || *m[0].Resource.Target.AverageUtilization != 80 {
		t.Errorf("defaults = %+v", hpa.Spec)
	}
	if hpa.Spec.Behavior != nil {
		t.Errorf("behavior defaulted without being asked: %+v", hpa.Spec.Behavior)
	}

	withBehavior := newHPA()
	withBehavior.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: new(int32(60))}}
	checkErrors(t, create(s, withBehavior))
	b := withBehavior.Spec.Behavior
	if *b.ScaleDown.StabilizationWindowSeconds != 60 || len(b.ScaleDown.Policies) != 1 || *b.ScaleUp.StabilizationWindowSeconds != 0 ||
		len(b.ScaleUp.Policies) != 2 || *b.ScaleUp.SelectPolicy != autoscalingv2.MaxChangePolicySelect {
		t.Errorf("behavior = %+v / %+v", b.ScaleUp, b.ScaleDown)
	}

	v1 := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta("web"), Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"}, MaxReplicas: 3,
	}}
	v1s := strategyOf(t, "autoscaling", "v1", "horizontalpodautoscalers")
	checkErrors(t, create(v1s, v1))
	if *v1.Spec.MinReplicas != 1 {
		t.Errorf("v1 minReplicas = %d", *v1.Spec.MinReplicas)
	}
	v1.Spec.TargetCPUUtilizationPercentage = new(int32(0))
	checkErrors(t, v1s.Validate(v1), "Invalid spec.targetCPUUtilizationPercentage")
}

func TestHPAValidation(t *testing.T) {
	s := strategyOf(t, "autoscaling", "v2", "horizontalpodautoscalers")
	tests := []struct {
		name   string
		mutate func(*autoscalingv2.HorizontalPodAutoscaler)
		want   []string
	}{
		{"no target", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{}
		},
			[]string{"Required spec.scaleTargetRef.kind", "Required spec.scaleTargetRef.name"}},
		{"min above max", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = new(int32(6)) }, []string{"Invalid spec.maxReplicas"}},
		{"zero bounds", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.MinReplicas = new(int32(0))
			h.Spec.MaxReplicas = 0
		}, []string{"Invalid spec.minReplicas", "Invalid spec.maxReplicas"}},
		{"metric source mismatch", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: new(resource.MustParse("100Mi"))}}}}
		}, []string{"Required spec.metrics[0].pods", "Forbidden spec.metrics[0].resource"}},
		{"resource target", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType}}}}
		}, []string{"Required spec.metrics[0].resource.target.averageUtilization"}},
		{"pods metric", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
				Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType}}}}
		}, []string{"Required spec.metrics[0].pods.metric.name", "Required spec.metrics[0].pods.target.averageValue"}},
		{"behavior", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: &autoscalingv2.HPAScalingRules{
				StabilizationWindowSeconds: new(int32(4000)),
				Policies:                   []autoscalingv2.HPAScalingPolicy{{Type: "Nodes", Value: 0, PeriodSeconds: 0}},
			}}
		}, []string{"Invalid spec.behavior.scaleUp.stabilizationWindowSeconds", "NotSupported spec.behavior.scaleUp.policies[0].type",
			"Invalid spec.behavior.scaleUp.policies[0].value", "Invalid spec.behavior.scaleUp.policies[0].periodSeconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHPA()
			tc.mutate(h)
			checkErrors(t, create(s, h), tc.want...)
		})
	}
}
