package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodTemplate(t *testing.T) {
	s := strategyOf(t, "", "v1", "podtemplates")
	pt := &corev1.PodTemplate{ObjectMeta: meta("tmpl"), Template: minimalTemplate()}
	checkErrors(t, create(s, pt))
	if pt.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		t.Errorf("template not defaulted: %+v", pt.Template.Spec)
	}
	bad := &corev1.PodTemplate{ObjectMeta: meta("tmpl"), Template: corev1.PodTemplateSpec{}}
	checkErrors(t, create(s, bad), "Required template.spec.containers")
}
