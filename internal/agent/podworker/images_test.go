package podworker

import (
	"encoding/base64"
	"errors"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// secretSources serves Secrets from a map; nothing else is looked up here.
type secretSources map[string]*v1.Secret

func (s secretSources) Secret(ns, name string) (*v1.Secret, error) {
	if sec, ok := s[ns+"/"+name]; ok {
		return sec, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}
func (secretSources) ConfigMap(_, name string) (*v1.ConfigMap, error) {
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}
func (secretSources) Services(string) ([]*v1.Service, error) { return nil, nil }

func TestPullAuths(t *testing.T) {
	dockerCfg := func(json string) *v1.Secret {
		return &v1.Secret{Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte(json)}}
	}
	encoded := base64.StdEncoding.EncodeToString([]byte("bob:b0b"))
	sources := secretSources{
		"ns/local":  dockerCfg(`{"auths":{"127.0.0.1:5000":{"username":"alice","password":"s3cret"}}}`),
		"ns/hub":    dockerCfg(`{"auths":{"https://index.docker.io/v1/":{"auth":"` + encoded + `"}}}`),
		"ns/legacy": {Type: v1.SecretTypeDockercfg, Data: map[string][]byte{v1.DockerConfigKey: []byte(`{"quay.io":{"username":"carol","password":"c"}}`)}},
	}
	tests := []struct {
		name    string
		image   string
		secrets []string
		want    []*criapi.AuthConfig
	}{
		{"no secrets: anonymous", "127.0.0.1:5000/app:1", nil, []*criapi.AuthConfig{nil}},
		{"matching registry with a port", "127.0.0.1:5000/app:1", []string{"local", "hub"},
			[]*criapi.AuthConfig{{Username: "alice", Password: "s3cret"}}},
		{"docker hub through index.docker.io and an auth field", "nginx:1.27", []string{"local", "hub"},
			[]*criapi.AuthConfig{{Username: "bob", Password: "b0b"}}},
		{"legacy .dockercfg", "quay.io/org/app:2", []string{"legacy"}, []*criapi.AuthConfig{{Username: "carol", Password: "c"}}},
		{"no secret for this registry: anonymous", "ghcr.io/org/app:1", []string{"local", "hub"}, []*criapi.AuthConfig{nil}},
		{"missing secret is skipped", "127.0.0.1:5000/app:1", []string{"gone", "local"},
			[]*criapi.AuthConfig{{Username: "alice", Password: "s3cret"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{cfg: Config{Sources: sources}}
			pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}
			for _, s := range tt.secrets {
				pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, v1.LocalObjectReference{Name: s})
			}
			got := m.pullAuths(pod, tt.image)
			if len(got) != len(tt.want) {
				t.Fatalf("pullAuths = %v, want %v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if (g == nil) != (w == nil) || (g != nil && (g.Username != w.Username || g.Password != w.Password || g.ServerAddress != "")) {
					t.Errorf("auth %d = %v, want %v (and no ServerAddress, which containerd would check as a URL)", i, g, w)
				}
			}
		})
	}
}

func TestPullRefused(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New(`rpc error: code = Unknown desc = failed to pull and unpack image "127.0.0.1:5000/app:1": failed to resolve reference "127.0.0.1:5000/app:1": pulling from host 127.0.0.1:5000 failed with status code [manifests 1]: 401 Unauthorized`), true},
		{errors.New(`failed to resolve reference "ghcr.io/org/app:1": failed to authorize: failed to fetch anonymous token: unexpected status: 403 Forbidden`), true},
		{errors.New(`pull access denied, repository does not exist or may require authorization`), true},
		{errors.New(`failed to do request: Head "https://registry-1.docker.io/v2/library/nginx/manifests/latest": dial tcp: lookup registry-1.docker.io: no such host`), false},
		{errors.New(`dial tcp 10.0.0.1:443: connect: connection refused`), false},
	}
	for _, tt := range tests {
		if got := pullRefused(tt.err); got != tt.want {
			t.Errorf("pullRefused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
