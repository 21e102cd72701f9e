package apiserver

import (
	"net/http"
	"reflect"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
)

func TestImpersonated(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string][]string
		want    authenticationv1.UserInfo
		ok      bool
	}{
		{"none", nil, authenticationv1.UserInfo{}, false},
		{"user", map[string][]string{"Impersonate-User": {"jane"}},
			authenticationv1.UserInfo{Username: "jane", Groups: []string{"system:authenticated"}}, true},
		{"user and groups", map[string][]string{"Impersonate-User": {"jane"}, "Impersonate-Group": {"dev", "ops"}},
			authenticationv1.UserInfo{Username: "jane", Groups: []string{"dev", "ops", "system:authenticated"}}, true},
		{"service account", map[string][]string{"Impersonate-User": {"system:serviceaccount:web:robot"}},
			authenticationv1.UserInfo{Username: "system:serviceaccount:web:robot",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:web", "system:authenticated"}}, true},
		{"extra, escaped key", map[string][]string{"Impersonate-User": {"jane"}, "Impersonate-Extra-Example.com%2fteam": {"a", "b"}},
			authenticationv1.UserInfo{Username: "jane", Groups: []string{"system:authenticated"},
				Extra: map[string]authenticationv1.ExtraValue{"example.com/team": {"a", "b"}}}, true},
		{"groups alone impersonate nobody", map[string][]string{"Impersonate-Group": {"dev"}}, authenticationv1.UserInfo{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got, ok := impersonated(r)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestServiceAccountUser(t *testing.T) {
	cases := []struct {
		subject string
		groups  []string
	}{
		{"system:serviceaccount:default:default", []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}},
		{"system:serviceaccount:broken", []string{"system:authenticated"}},
		{"someone", []string{"system:authenticated"}},
	}
	for _, tc := range cases {
		if got := serviceAccountUser(tc.subject); got.Username != tc.subject || !reflect.DeepEqual(got.Groups, tc.groups) {
			t.Errorf("%s: got %+v, want groups %v", tc.subject, got, tc.groups)
		}
	}
}
