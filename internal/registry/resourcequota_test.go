package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResourceQuota(t *testing.T) {
	s := strategyOf(t, "", "v1", "resourcequotas")
	rq := &corev1.ResourceQuota{ObjectMeta: meta("quota"), Spec: corev1.ResourceQuotaSpec{
		Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"), "requests.cpu": resource.MustParse("4")}}}
	checkErrors(t, create(s, rq))
	bad := &corev1.ResourceQuota{ObjectMeta: meta("quota"), Spec: corev1.ResourceQuotaSpec{
		Hard:   corev1.ResourceList{corev1.ResourcePods: resource.MustParse("-1")},
		Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort}}}
	checkErrors(t, create(s, bad), "Invalid spec.hard[pods]", "Invalid spec.scopes")

	rescoped := rq.DeepCopy()
	rescoped.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating}
	checkErrors(t, update(s, rescoped, rq), "Invalid spec.scopes")
}
