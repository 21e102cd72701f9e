package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestBadInputGetsKubernetesErrors sends each class of bad request and checks the Status code,
// reason and that nothing was written.
func TestBadInputGetsKubernetesErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	transport, err := rest.TransportFor(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: transport}
	do := func(method, path, contentType, body string) (int, metav1.Status) {
		req, _ := http.NewRequestWithContext(context.Background(), method, s.URL+path, strings.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var st metav1.Status
		_ = json.Unmarshal(data, &st)
		return resp.StatusCode, st
	}
	deploy := func(name, labels, selector string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"` + name + `"},"spec":{"selector":{"matchLabels":` + selector +
			`},"template":{"metadata":{"labels":` + labels + `},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`
	}
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		reason                                metav1.StatusReason
		causeField                            string
	}{
		{"malformed JSON", "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata": {"name": "x"`, 400, metav1.StatusReasonBadRequest, ""},
		{"malformed YAML", "POST", "/api/v1/namespaces/default/configmaps", "application/yaml", "metadata:\n  name: [x\n", 400, metav1.StatusReasonBadRequest, ""},
		{"unknown field strict", "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"bogus":1}`, 400, metav1.StatusReasonBadRequest, ""},
		{"duplicate field strict", "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d","name":"e"}}`, 400, metav1.StatusReasonBadRequest, ""},
		{"invalid name", "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}`, 422, metav1.StatusReasonInvalid, "metadata.name"},
		{"missing name", "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`, 422, metav1.StatusReasonInvalid, "metadata.name"},
		{"wrong kind for endpoint", "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"k"}}`, 400, metav1.StatusReasonBadRequest, ""},
		{"missing namespace", "POST", "/api/v1/namespaces/nope/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"}}`, 404, metav1.StatusReasonNotFound, ""},
		{"selector mismatch", "POST", "/apis/apps/v1/namespaces/default/deployments", "application/json",
			deploy("mismatch", `{"app":"a"}`, `{"app":"b"}`), 422, metav1.StatusReasonInvalid, "spec.template.metadata.labels"},
		{"missing service account", "POST", "/api/v1/namespaces/default/pods", "application/json",
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nosa"},"spec":{"serviceAccountName":"nope","containers":[{"name":"c","image":"nginx"}]}}`,
			403, metav1.StatusReasonForbidden, ""},
		{"unknown resource", "GET", "/api/v1/namespaces/default/widgets", "", "", 404, metav1.StatusReasonNotFound, ""},
		{"unknown group", "GET", "/apis/example.com/v1/widgets", "", "", 404, metav1.StatusReasonNotFound, ""},
		{"unsupported media type", "POST", "/api/v1/namespaces/default/configmaps", "text/plain", "hello", 415, metav1.StatusReasonUnsupportedMediaType, ""},
		{"bad label selector", "GET", "/api/v1/namespaces/default/pods?labelSelector=a%3D%3D%3Db", "", "", 400, metav1.StatusReasonBadRequest, ""},
		{"unsupported field selector", "GET", "/api/v1/namespaces/default/configmaps?fieldSelector=spec.foo%3Dx", "", "", 400, metav1.StatusReasonBadRequest, ""},
		{"body too large", "POST", "/api/v1/namespaces/default/configmaps", "application/json",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"` + strings.Repeat("x", 4<<20) + `"}}`, 413, metav1.StatusReasonRequestEntityTooLarge, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, st := do(tc.method, tc.path, tc.contentType, tc.body)
			if code != tc.code || st.Reason != tc.reason || st.Kind != "Status" {
				t.Fatalf("got %d %q (kind %q, %q), want %d %q", code, st.Reason, st.Kind, st.Message, tc.code, tc.reason)
			}
			if tc.reason == metav1.StatusReasonForbidden && st.Message != `pods "nosa" is forbidden: error looking up service account default/nope: serviceaccount "nope" not found` {
				t.Fatalf("message %q", st.Message)
			}
			if tc.causeField != "" {
				found := false
				if st.Details != nil {
					for _, c := range st.Details.Causes {
						if strings.HasPrefix(c.Field, tc.causeField) {
							found = true
						}
					}
				}
				if !found {
					t.Fatalf("no cause for field %s in %+v", tc.causeField, st.Details)
				}
			}
		})
	}
	// Nothing above was written.
	out := s.MustKubectl(t, "get", "configmaps,deployments,pods", "-o", "name")
	for _, n := range []string{"configmap/u", "configmap/d", "configmap/e", "configmap/big", "mismatch", "pod/nosa"} {
		if strings.Contains(out, n) {
			t.Fatalf("rejected object %s was stored:\n%s", n, out)
		}
	}

	// A pod made in the same breath as its namespace waits for the namespace's "default"
	// service account (the controller creates it a moment later) instead of being refused.
	if code, st := do("POST", "/api/v1/namespaces", "application/json", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fresh"}}`); code != 201 {
		t.Fatalf("create namespace: %d %s", code, st.Message)
	}
	if code, st := do("POST", "/api/v1/namespaces/fresh/pods", "application/json",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"early"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}`); code != 201 {
		t.Fatalf("pod in a new namespace: %d %s", code, st.Message)
	}

	// Conflicts: a stale resourceVersion answers 409, and the selector of a Deployment is immutable.
	code, _ := do("POST", "/apis/apps/v1/namespaces/default/deployments", "application/json", deploy("web", `{"app":"web"}`, `{"app":"web"}`))
	if code != 201 {
		t.Fatalf("create web: %d", code)
	}
	code, st := do("POST", "/apis/apps/v1/namespaces/default/deployments", "application/json", deploy("web", `{"app":"web"}`, `{"app":"web"}`))
	if code != 409 || st.Reason != metav1.StatusReasonAlreadyExists {
		t.Fatalf("duplicate create: %d %s", code, st.Reason)
	}
	var cur map[string]interface{}
	req, _ := http.NewRequest("GET", s.URL+"/apis/apps/v1/namespaces/default/deployments/web", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&cur)
	resp.Body.Close()
	cur["metadata"].(map[string]interface{})["resourceVersion"] = "1"
	stale, _ := json.Marshal(cur)
	code, st = do("PUT", "/apis/apps/v1/namespaces/default/deployments/web", "application/json", string(stale))
	if code != 409 || st.Reason != metav1.StatusReasonConflict {
		t.Fatalf("stale update: %d %s %s", code, st.Reason, st.Message)
	}
	code, st = do("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", "application/merge-patch+json",
		`{"spec":{"selector":{"matchLabels":{"app":"other"}},"template":{"metadata":{"labels":{"app":"other"}}}}}`)
	if code != 422 || st.Reason != metav1.StatusReasonInvalid {
		t.Fatalf("selector change: %d %s %s", code, st.Reason, st.Message)
	}
	// Dry run validates but persists nothing.
	code, _ = do("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", "application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"}}`)
	if code != 201 {
		t.Fatalf("dry run create: %d", code)
	}
	if out := s.MustKubectl(t, "get", "configmaps", "-o", "name"); strings.Contains(out, "configmap/dry") {
		t.Fatalf("dry-run object was stored")
	}
	_ = bytes.MinRead
}
