package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestMetadataClient drives client-go's metadata client (what garbage collectors and other
// metadata-only informers use) through get, list and watch, and checks the server answers it in
// protobuf, the first type that client asks for.
func TestMetadataClient(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mc, err := metadata.NewForConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	cms := mc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("default")
	w, err := cms.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "meta", Labels: map[string]string{"app": "x"}}, Data: map[string]string{"k": "v"}}
	created, err := s.Client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case ev := <-w.ResultChan():
			if ev.Type == watch.Error {
				t.Fatalf("watch error: %v", ev.Object)
			}
			p, ok := ev.Object.(*metav1.PartialObjectMetadata)
			if !ok {
				t.Fatalf("watch event object is %T, want *PartialObjectMetadata", ev.Object)
			}
			if p.Name != "meta" {
				continue // kube-root-ca.crt and the like
			}
			if ev.Type != watch.Added || p.UID != created.UID || p.Labels["app"] != "x" || p.ResourceVersion != created.ResourceVersion {
				t.Fatalf("watch event %s %+v, want ADDED of the created ConfigMap", ev.Type, p.ObjectMeta)
			}
		case <-ctx.Done():
			t.Fatal("no watch event for the created ConfigMap")
		}
		break
	}

	got, err := cms.Get(ctx, "meta", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.UID != created.UID || len(got.ManagedFields) == 0 {
		t.Fatalf("get: %+v", got)
	}
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "app=x"})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "meta" || list.ResourceVersion == "" {
		t.Fatalf("list: %+v", list)
	}

	// The wire format: protobuf for get, list and watch when the client lists it first; JSON
	// when it asks for JSON.
	rt, err := rest.TransportFor(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: rt}
	for _, tc := range []struct{ path, accept, want string }{
		{"/api/v1/namespaces/default/configmaps/meta", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json", "application/vnd.kubernetes.protobuf"},
		{"/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", "application/vnd.kubernetes.protobuf"},
		{"/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1", "application/vnd.kubernetes.protobuf;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json", "application/vnd.kubernetes.protobuf;stream=watch"},
		{"/api/v1/namespaces/default/configmaps/meta", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json", "application/json"},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+tc.path, nil)
		req.Header.Set("Accept", tc.accept)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.want {
			t.Errorf("GET %s Accept %s: %d %s, want 200 %s", tc.path, tc.accept, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
		}
		if strings.HasPrefix(tc.want, "application/json") && !strings.Contains(string(body), `"kind":"PartialObjectMetadata"`) {
			t.Errorf("GET %s as JSON: %s", tc.path, body)
		}
		if strings.Contains(string(body), `"k":"v"`) {
			t.Errorf("GET %s: metadata response carries the ConfigMap's data", tc.path)
		}
	}
}
