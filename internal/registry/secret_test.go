package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func TestSecretDefaults(t *testing.T) {
	s := strategyOf(t, "", "v1", "secrets")
	secret := &corev1.Secret{ObjectMeta: meta("db"), Data: map[string][]byte{"user": []byte("admin"), "password": []byte("old")},
		StringData: map[string]string{"password": "new"}}
	if errs := create(s, secret); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if secret.Type != corev1.SecretTypeOpaque {
		t.Errorf("type = %q, want Opaque", secret.Type)
	}
	want := map[string][]byte{"user": []byte("admin"), "password": []byte("new")}
	if !apiequality.Semantic.DeepEqual(secret.Data, want) || secret.StringData != nil {
		t.Errorf("data = %q stringData = %q, want stringData merged into data", secret.Data, secret.StringData)
	}
}

func TestSecretValidation(t *testing.T) {
	s := strategyOf(t, "", "v1", "secrets")
	tests := []struct {
		name   string
		secret corev1.Secret
		want   []string
	}{
		{"opaque", corev1.Secret{Data: map[string][]byte{"a": nil}}, nil},
		{"bad key", corev1.Secret{Data: map[string][]byte{"a b": nil}}, []string{"Invalid data[a b]"}},
		{"tls", corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c")}}, []string{"Required data[tls.key]"}},
		{"docker config json", corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}},
			[]string{"Invalid data[.dockerconfigjson]"}},
		{"basic auth", corev1.Secret{Type: corev1.SecretTypeBasicAuth}, []string{"Required data[username]", "Required data[password]"}},
		{"ssh", corev1.Secret{Type: corev1.SecretTypeSSHAuth}, []string{"Required data[ssh-privatekey]"}},
		{"service account token", corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			[]string{"Required metadata.annotations[kubernetes.io/service-account.name]"}},
		{"service account token ok", corev1.Secret{Type: corev1.SecretTypeServiceAccountToken,
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret := tc.secret
			secret.Name, secret.Namespace = "s", "default"
			checkErrors(t, create(s, &secret), tc.want...)
		})
	}
}

func TestSecretUpdateAndFields(t *testing.T) {
	s := strategyOf(t, "", "v1", "secrets")
	old := &corev1.Secret{ObjectMeta: meta("db"), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": []byte("v")}, Immutable: new(true)}
	changed := old.DeepCopy()
	changed.Type = corev1.SecretTypeBasicAuth
	changed.Data = map[string][]byte{"username": []byte("u")}
	checkErrors(t, update(s, changed, old), "Invalid type", "Forbidden data")
	if got := s.FieldSet(old); !apiequality.Semantic.DeepEqual(got, fields.Set{"type": "Opaque"}) {
		t.Errorf("fields = %v", got)
	}
}
