package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestConfigMap(t *testing.T) {
	s := strategyOf(t, "", "v1", "configmaps")
	tests := []struct {
		name string
		cm   corev1.ConfigMap
		want []string
	}{
		{"valid", corev1.ConfigMap{Data: map[string]string{"app.properties": "a=b", ".hidden": "x"}}, nil},
		{"bad keys", corev1.ConfigMap{Data: map[string]string{"a/b": "x"}, BinaryData: map[string][]byte{"..": nil}},
			[]string{"Invalid data[a/b]", "Invalid binaryData[..]"}},
		{"key in both", corev1.ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": nil}}, []string{"Invalid data[k]"}},
		{"too large", corev1.ConfigMap{Data: map[string]string{"big": strings.Repeat("x", corev1.MaxSecretSize+1)}}, []string{"TooLong []"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cm := tc.cm
			cm.ObjectMeta = meta("cfg")
			checkErrors(t, create(s, &cm), tc.want...)
		})
	}
}

func TestImmutableConfigMap(t *testing.T) {
	s := strategyOf(t, "", "v1", "configmaps")
	old := &corev1.ConfigMap{ObjectMeta: meta("cfg"), Data: map[string]string{"k": "v"}, Immutable: new(true)}
	relabeled := old.DeepCopy()
	relabeled.Labels = map[string]string{"a": "b"}
	checkErrors(t, update(s, relabeled, old))

	changed := old.DeepCopy()
	changed.Data["k"] = "w"
	changed.Immutable = nil
	errs := update(s, changed, old)
	checkErrors(t, errs, "Forbidden data", "Forbidden immutable")
	checkDetail(t, errs, "data", "field is immutable when `immutable` is set")

	mutable := &corev1.ConfigMap{ObjectMeta: meta("cfg"), Data: map[string]string{"k": "v"}}
	edited := mutable.DeepCopy()
	edited.Data["k"] = "w"
	checkErrors(t, update(s, edited, mutable))
}
