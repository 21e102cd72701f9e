package apiserver

import (
	"net/http"
	"testing"
)

func TestParseResourcePath(t *testing.T) {
	cases := []struct {
		method, path string
		ok           bool
		want         requestInfo
	}{
		{"GET", "/api/v1/pods", true, requestInfo{version: "v1", resource: "pods", verb: "list"}},
		{"GET", "/api/v1/namespaces/default/pods/web-0", true, requestInfo{version: "v1", namespace: "default", resource: "pods", name: "web-0", verb: "get"}},
		{"POST", "/api/v1/namespaces/default/pods/web-0/binding", true, requestInfo{version: "v1", namespace: "default", resource: "pods", name: "web-0", subresource: "binding", verb: "create"}},
		{"GET", "/api/v1/namespaces/default", true, requestInfo{version: "v1", resource: "namespaces", name: "default", verb: "get"}},
		{"PUT", "/api/v1/namespaces/demo/finalize", true, requestInfo{version: "v1", resource: "namespaces", name: "demo", subresource: "finalize", verb: "update"}},
		{"GET", "/api/v1/namespaces", true, requestInfo{version: "v1", resource: "namespaces", verb: "list"}},
		{"DELETE", "/apis/apps/v1/namespaces/x/deployments", true, requestInfo{group: "apps", version: "v1", namespace: "x", resource: "deployments", verb: "deletecollection"}},
		{"PATCH", "/apis/apps/v1/namespaces/x/deployments/d/scale", true, requestInfo{group: "apps", version: "v1", namespace: "x", resource: "deployments", name: "d", subresource: "scale", verb: "patch"}},
		{"GET", "/api/v1/namespaces/x/pods/p/proxy/some/path", true, requestInfo{version: "v1", namespace: "x", resource: "pods", name: "p", subresource: "proxy", rest: "some/path", verb: "get"}},
		{"GET", "/apis/apps/v1", false, requestInfo{}},
		{"GET", "/api/v1", false, requestInfo{}},
		{"GET", "/version", false, requestInfo{}},
	}
	for _, tc := range cases {
		got, ok := parseResourcePath(tc.method, tc.path)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s %s: got %+v %v, want %+v %v", tc.method, tc.path, got, ok, tc.want, tc.ok)
		}
	}
}

func TestOutputFor(t *testing.T) {
	cases := []struct {
		accept string
		want   outputMode
	}{
		{"", outputJSON},
		{"application/json", outputJSON},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", outputTable},
		{"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", outputMetadataProtobuf},
		{"application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", outputMetadata},
		{"application/vnd.kubernetes.protobuf, */*", outputProtobuf},
		{"application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json", outputJSON},
		{"application/yaml", outputYAML},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", tc.accept)
		if got := outputFor(r); got != tc.want {
			t.Errorf("Accept %q: got %v, want %v", tc.accept, got, tc.want)
		}
	}
}
