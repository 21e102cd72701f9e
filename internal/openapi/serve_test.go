package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	"k8s.io/kube-openapi/pkg/spec3"
	kubeproto "k8s.io/kube-openapi/pkg/util/proto"

	"github.com/skiff-sh/skiff/internal/registry"
)

func TestServeHTTP(t *testing.T) {
	d := buildDocs(t)
	appsURL := v3Index(t, d)["apis/apps/v1"]
	_, appsHash, _ := strings.Cut(appsURL, "?hash=")
	cases := []struct {
		name        string
		method      string
		path        string
		accept      string
		headers     []string
		wantCode    int
		wantType    string
		wantHeaders map[string]string
	}{
		{name: "v2 json", path: "/openapi/v2", accept: "application/json", wantCode: 200, wantType: "application/json"},
		{name: "v2 no accept", path: "/openapi/v2", wantCode: 200, wantType: "application/json"},
		{name: "v2 wildcard", path: "/openapi/v2", accept: "*/*", wantCode: 200, wantType: "application/json"},
		{name: "v2 protobuf as client-go asks", path: "/openapi/v2", accept: mediaV2ProtoLegacy + ", application/json", wantCode: 200, wantType: mediaV2Proto},
		{name: "v2 protobuf dotted", path: "/openapi/v2", accept: mediaV2Proto, wantCode: 200, wantType: mediaV2Proto},
		{name: "v2 preference order", path: "/openapi/v2", accept: mediaV2Proto + ";q=0.5, application/json", wantCode: 200, wantType: "application/json"},
		{name: "v2 unacceptable", path: "/openapi/v2", accept: "text/html", wantCode: 406},
		{name: "v2 head", method: http.MethodHead, path: "/openapi/v2", wantCode: 200, wantType: "application/json"},
		{name: "v2 post", method: http.MethodPost, path: "/openapi/v2", wantCode: 405},
		{name: "v3 index", path: "/openapi/v3", accept: "application/json", wantCode: 200, wantType: "application/json"},
		{name: "v3 index any accept", path: "/openapi/v3", accept: mediaV3Proto, wantCode: 200, wantType: "application/json"},
		{name: "v3 core", path: "/openapi/v3/api/v1", accept: "application/json", wantCode: 200, wantType: "application/json",
			wantHeaders: map[string]string{"Cache-Control": ""}},
		{name: "v3 apps by hash", path: appsURL, accept: "application/json", wantCode: 200, wantType: "application/json",
			wantHeaders: map[string]string{"Cache-Control": "public, immutable", "Etag": strconv.Quote(appsHash)}},
		{name: "v3 stale hash redirects", path: "/openapi/v3/apis/apps/v1?hash=0123", accept: "application/json", wantCode: 301,
			wantHeaders: map[string]string{"Location": appsURL}},
		{name: "v3 protobuf", path: "/openapi/v3/apis/apps/v1", accept: mediaV3ProtoLegacy, wantCode: 200, wantType: mediaV3Proto},
		{name: "v3 unknown group version", path: "/openapi/v3/apis/example.com/v1", accept: "application/json", wantCode: 404},
		{name: "v3 discovery docs", path: "/openapi/v3/apis/apps", accept: "application/json", wantCode: 200, wantType: "application/json"},
		{name: "v3 version doc", path: "/openapi/v3/version", accept: "application/json", wantCode: 200, wantType: "application/json"},
		{name: "unknown path", path: "/openapi/v4", wantCode: 404},
		{name: "prefix only", path: "/openapi", wantCode: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			rec := fetch(t, d, method, tc.path, tc.accept, tc.headers...)
			if rec.Code != tc.wantCode {
				t.Fatalf("%s %s: code %d, want %d; body %.200s", method, tc.path, rec.Code, tc.wantCode, rec.Body.String())
			}
			if tc.wantType != "" {
				if got := rec.Header().Get("Content-Type"); got != tc.wantType {
					t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
				}
				if rec.Header().Get("Etag") == "" {
					t.Error("no ETag")
				}
			}
			for k, want := range tc.wantHeaders {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if tc.wantCode == 404 {
				var status map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &status); err != nil || status["kind"] != "Status" || status["reason"] != "NotFound" {
					t.Errorf("404 body = %s, want a NotFound Status", rec.Body.String())
				}
			}
			if method == http.MethodHead && rec.Body.Len() != 0 {
				t.Errorf("HEAD sent a body of %d bytes", rec.Body.Len())
			}
		})
	}
}

func TestConditionalAndCompressed(t *testing.T) {
	d := buildDocs(t)
	first := fetch(t, d, http.MethodGet, "/openapi/v2", "application/json")
	etag := first.Header().Get("Etag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if again := fetch(t, d, http.MethodGet, "/openapi/v2", "application/json", "If-None-Match", etag); again.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag: %d, want 304", again.Code)
	}
	if stale := fetch(t, d, http.MethodGet, "/openapi/v2", "application/json", "If-None-Match", `"stale"`); stale.Code != http.StatusOK {
		t.Errorf("If-None-Match with another ETag: %d, want 200", stale.Code)
	}

	zipped := fetch(t, d, http.MethodGet, "/openapi/v2", "application/json", "Accept-Encoding", "gzip, deflate")
	if zipped.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", zipped.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if !bytes.Equal(plain, first.Body.Bytes()) {
		t.Error("gunzipped body differs from the plain one")
	}
	if vary := strings.Join(zipped.Header().Values("Vary"), ","); !strings.Contains(vary, "Accept-Encoding") || !strings.Contains(vary, "Accept") {
		t.Errorf("Vary = %q", vary)
	}
}

// v3Index returns the served index's paths: key → serverRelativeURL.
func v3Index(t testing.TB, d *Documents) map[string]string {
	t.Helper()
	rec := fetch(t, d, http.MethodGet, "/openapi/v3", "application/json")
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil {
		t.Fatalf("decode v3 index: %v", err)
	}
	out := map[string]string{}
	for k, v := range index.Paths {
		out[k] = v.ServerRelativeURL
	}
	return out
}

func TestV3IndexListsEveryGroupVersion(t *testing.T) {
	d := buildDocs(t)
	index := v3Index(t, d)
	want := map[string]bool{"api": true, "apis": true, "version": true}
	for _, r := range registry.Builtin() {
		want[groupVersionKey(r.Group, r.Version)] = true
		if r.Group != "" {
			want["apis/"+r.Group] = true
		}
	}
	for key := range want {
		url, ok := index[key]
		if !ok {
			t.Errorf("index lacks %s", key)
			continue
		}
		if !strings.HasPrefix(url, "/openapi/v3/"+key+"?hash=") {
			t.Errorf("%s: serverRelativeURL = %q", key, url)
		}
		rec := fetch(t, d, http.MethodGet, url, "application/json")
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d", url, rec.Code)
			continue
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Errorf("%s does not decode as OpenAPI v3: %v", key, err)
			continue
		}
		if doc.Version != "3.0.0" || doc.Paths == nil || len(doc.Paths.Paths) == 0 {
			t.Errorf("%s: openapi %q with %d paths", key, doc.Version, len(doc.Paths.Paths))
		}
	}
	if len(index) != len(want) {
		t.Errorf("index has %d entries, want %d: %v", len(index), len(want), index)
	}

	// Every $ref of a document resolves inside it.
	for key := range want {
		doc := v3Document(t, d, key)
		schemas, _ := lookup(doc, "components", "schemas").(map[string]any)
		for _, ref := range collectRefs(doc, nil) {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if _, ok := schemas[name]; !ok || name == ref {
				t.Errorf("%s: dangling $ref %s", key, ref)
			}
		}
	}
}

func collectRefs(v any, out []string) []string {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				out = append(out, s)
				continue
			}
			out = collectRefs(e, out)
		}
	case []any:
		for _, e := range x {
			out = collectRefs(e, out)
		}
	}
	return out
}

func TestOperations(t *testing.T) {
	d := buildDocs(t)
	core := v3Document(t, d, "api/v1")
	apps := v3Document(t, d, "apis/apps/v1")
	cases := []struct {
		doc              map[string]any
		path, method     string
		id, action       string
		group, kind, ver string
		fieldValidation  bool
	}{
		{core, "/api/v1/namespaces/{namespace}/pods", "get", "listCoreV1NamespacedPod", "list", "", "Pod", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/pods", "post", "createCoreV1NamespacedPod", "post", "", "Pod", "v1", true},
		{core, "/api/v1/namespaces/{namespace}/pods", "delete", "deleteCoreV1CollectionNamespacedPod", "deletecollection", "", "Pod", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}", "get", "readCoreV1NamespacedPod", "get", "", "Pod", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}", "put", "replaceCoreV1NamespacedPod", "put", "", "Pod", "v1", true},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}", "patch", "patchCoreV1NamespacedPod", "patch", "", "Pod", "v1", true},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}", "delete", "deleteCoreV1NamespacedPod", "delete", "", "Pod", "v1", false},
		{core, "/api/v1/pods", "get", "listCoreV1PodForAllNamespaces", "list", "", "Pod", "v1", false},
		{core, "/api/v1/watch/namespaces/{namespace}/pods", "get", "watchCoreV1NamespacedPodList", "watchlist", "", "Pod", "v1", false},
		{core, "/api/v1/watch/namespaces/{namespace}/pods/{name}", "get", "watchCoreV1NamespacedPod", "watch", "", "Pod", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/status", "patch", "patchCoreV1NamespacedPodStatus", "patch", "", "Pod", "v1", true},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "createCoreV1NamespacedPodEviction", "post", "policy", "Eviction", "v1", true},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/binding", "post", "createCoreV1NamespacedPodBinding", "post", "", "Binding", "v1", true},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/log", "get", "readCoreV1NamespacedPodLog", "get", "", "Pod", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/exec", "post", "connectCoreV1PostNamespacedPodExec", "connect", "", "PodExecOptions", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/portforward", "get", "connectCoreV1GetNamespacedPodPortforward", "connect", "", "PodPortForwardOptions", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/services/{name}/proxy/{path}", "get", "connectCoreV1GetNamespacedServiceProxyWithPath", "connect", "", "ServiceProxyOptions", "v1", false},
		{core, "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token", "post", "createCoreV1NamespacedServiceAccountToken", "post", "authentication.k8s.io", "TokenRequest", "v1", true},
		{core, "/api/v1/namespaces/{name}/finalize", "put", "replaceCoreV1NamespaceFinalize", "put", "", "Namespace", "v1", true},
		{core, "/api/v1/nodes/{name}", "patch", "patchCoreV1Node", "patch", "", "Node", "v1", true},
		{core, "/api/v1/nodes", "post", "createCoreV1Node", "post", "", "Node", "v1", true},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "patchAppsV1NamespacedDeployment", "patch", "apps", "Deployment", "v1", true},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "put", "replaceAppsV1NamespacedDeploymentScale", "put", "autoscaling", "Scale", "v1", true},
		{apps, "/apis/apps/v1/watch/deployments", "get", "watchAppsV1DeploymentListForAllNamespaces", "watchlist", "apps", "Deployment", "v1", false},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			op, ok := lookup(tc.doc, "paths", tc.path, tc.method).(map[string]any)
			if !ok {
				t.Fatalf("no operation")
			}
			if op["operationId"] != tc.id {
				t.Errorf("operationId = %v, want %s", op["operationId"], tc.id)
			}
			if op[extAction] != tc.action {
				t.Errorf("%s = %v, want %s", extAction, op[extAction], tc.action)
			}
			gvk, _ := op[extGVK].(map[string]any)
			if gvk["group"] != tc.group || gvk["version"] != tc.ver || gvk["kind"] != tc.kind {
				t.Errorf("%s = %v, want %s/%s %s", extGVK, gvk, tc.group, tc.ver, tc.kind)
			}
			hasFV := false
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if lookup(p, "name") == "fieldValidation" && lookup(p, "in") == "query" {
					hasFV = true
				}
			}
			if hasFV != tc.fieldValidation {
				t.Errorf("fieldValidation parameter present = %v, want %v", hasFV, tc.fieldValidation)
			}
			if tc.method == "patch" {
				content, _ := lookup(op, "requestBody", "content").(map[string]any)
				for _, mt := range patchMediaTypes {
					if _, ok := content[mt]; !ok {
						t.Errorf("PATCH does not consume %s", mt)
					}
				}
			}
		})
	}
}

func TestV2ProtobufRoundTrip(t *testing.T) {
	d := buildDocs(t)
	rec := fetch(t, d, http.MethodGet, "/openapi/v2", mediaV2ProtoLegacy)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET protobuf: %d", rec.Code)
	}
	var doc openapi_v2.Document
	if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("unmarshal gnostic v2: %v", err)
	}
	if doc.Swagger != "2.0" {
		t.Errorf("swagger = %q", doc.Swagger)
	}
	// kubectl's v2 model parser (used by apply's fallback and by older clients).
	models, err := kubeproto.NewOpenAPIData(&doc)
	if err != nil {
		t.Fatalf("kube-openapi models: %v", err)
	}
	deployment := models.LookupModel("io.k8s.api.apps.v1.Deployment")
	if deployment == nil {
		t.Fatal("no Deployment model")
	}
	kind, ok := deployment.(*kubeproto.Kind)
	if !ok {
		t.Fatalf("Deployment model is %T", deployment)
	}
	if _, ok := kind.Fields["spec"]; !ok {
		t.Error("Deployment model has no spec")
	}
	gvk, _ := deployment.GetExtensions()[extGVK].([]interface{})
	if len(gvk) != 1 {
		t.Errorf("Deployment %s = %v", extGVK, deployment.GetExtensions()[extGVK])
	}
	podSpec, ok := models.LookupModel("io.k8s.api.core.v1.PodSpec").(*kubeproto.Kind)
	if !ok {
		t.Fatal("no PodSpec model")
	}
	containers := podSpec.Fields["containers"]
	if got := containers.GetExtensions()[extPatchMergeKey]; got != "name" {
		t.Errorf("containers merge key = %v", got)
	}
}

func TestV3ProtobufRoundTrip(t *testing.T) {
	d := buildDocs(t)
	for key := range v3Index(t, d) {
		rec := fetch(t, d, http.MethodGet, "/openapi/v3/"+key, mediaV3Proto)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s protobuf: %d", key, rec.Code)
		}
		var doc openapi_v3.Document
		if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("unmarshal gnostic v3 %s: %v", key, err)
		}
		if doc.Openapi != "3.0.0" || len(doc.GetPaths().GetPath()) == 0 {
			t.Errorf("%s: openapi %q with %d paths", key, doc.Openapi, len(doc.GetPaths().GetPath()))
		}
		if key != "apis/apps/v1" {
			continue
		}
		found := false
		for _, s := range doc.GetComponents().GetSchemas().GetAdditionalProperties() {
			if s.Name == "io.k8s.api.apps.v1.Deployment" {
				found = true
			}
		}
		if !found {
			t.Error("protobuf v3 apps/v1 has no Deployment schema")
		}
	}
}

func TestBuildIsFast(t *testing.T) {
	if raceEnabled {
		t.Skip("timing is meaningless under the race detector")
	}
	resources := registry.Builtin()
	start := time.Now()
	if _, err := Build(resources, "v1.37.2"); err != nil {
		t.Fatalf("Build: %v", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Build took %v, want under 1s", elapsed)
	}
}

func TestBuildRejectsResourcesWithoutTypes(t *testing.T) {
	_, err := Build([]*registry.Resource{{Version: "v1", Resource: "things", Kind: "Thing"}}, "v1.37.2")
	if err == nil {
		t.Fatal("Build accepted a resource without Go types")
	}
}

func BenchmarkBuild(b *testing.B) {
	resources := registry.Builtin()
	for b.Loop() {
		if _, err := Build(resources, "v1.37.2"); err != nil {
			b.Fatal(err)
		}
	}
}
