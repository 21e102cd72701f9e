package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestLimitRange(t *testing.T) {
	s := strategyOf(t, "", "v1", "limitranges")
	q := resource.MustParse
	lr := &corev1.LimitRange{ObjectMeta: meta("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Max:  corev1.ResourceList{corev1.ResourceCPU: q("2")},
		Min:  corev1.ResourceList{corev1.ResourceMemory: q("64Mi")},
	}}}}
	checkErrors(t, create(s, lr))
	item := lr.Spec.Limits[0]
	if !apiequality.Semantic.DeepEqual(item.Default, corev1.ResourceList{corev1.ResourceCPU: q("2")}) ||
		!apiequality.Semantic.DeepEqual(item.DefaultRequest, corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("64Mi")}) {
		t.Errorf("defaults: default %v defaultRequest %v", item.Default, item.DefaultRequest)
	}

	bad := &corev1.LimitRange{ObjectMeta: meta("limits"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
		{Type: corev1.LimitTypePod, Default: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
		{Type: corev1.LimitTypeContainer, Min: corev1.ResourceList{corev1.ResourceCPU: q("2")}, Max: corev1.ResourceList{corev1.ResourceCPU: q("1")}},
		{Type: corev1.LimitTypeContainer},
		{Type: "Cluster"},
	}}}
	checkErrors(t, create(s, bad), "Forbidden spec.limits[0].default", "Invalid spec.limits[1].min[cpu]",
		"Invalid spec.limits[1].defaultRequest[cpu]", "Invalid spec.limits[1].default[cpu]", "Duplicate spec.limits[2].type",
		"Invalid spec.limits[3].type")
}
