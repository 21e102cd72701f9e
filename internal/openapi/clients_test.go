package openapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"

	"github.com/skiff-sh/skiff/internal/registry"
)

// serveDocs serves d over HTTP and returns a client config for it.
func serveDocs(t *testing.T, d *Documents) *rest.Config {
	t.Helper()
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}
}

func openAPIV3Client(t *testing.T, cfg *rest.Config) openapi.Client {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	return dc.OpenAPIV3()
}

func testDeployment() *appsv1.Deployment {
	replicas := int32(2)
	maxSurge := intstr.FromString("25%")
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "web",
					Image: "nginx:1.25",
					Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}, {ContainerPort: 80, Protocol: corev1.ProtocolUDP}},
					Env:   []corev1.EnvVar{{Name: "A", Value: "1"}},
				}}},
			},
		},
	}
}

func TestManagedFieldsTypeConverter(t *testing.T) {
	d := buildDocs(t)
	converter, err := managedfields.NewTypeConverter(d.Schemas(), false)
	if err != nil {
		t.Fatalf("NewTypeConverter: %v", err)
	}
	dnsService := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
		}},
	}
	cases := []struct {
		name string
		obj  runtime.Object
	}{
		{"deployment", testDeployment()},
		// Two ports share a number: only the upstream [port, protocol] key tells them apart.
		{"service with tcp and udp on one port", dnsService},
		{"pod", &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typed, err := converter.ObjectToTyped(tc.obj)
			if err != nil {
				t.Fatalf("ObjectToTyped: %v", err)
			}
			back, err := converter.TypedToObject(typed)
			if err != nil {
				t.Fatalf("TypedToObject: %v", err)
			}
			if back.GetObjectKind().GroupVersionKind() != tc.obj.GetObjectKind().GroupVersionKind() {
				t.Errorf("round trip changed the kind to %v", back.GetObjectKind().GroupVersionKind())
			}
		})
	}

	// Two containers with one name break the list's key: the schema must say it is keyed.
	dup := &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "a"}}}}
	if _, err := converter.ObjectToTyped(dup); err == nil {
		t.Error("a pod with duplicate container names converted; containers are not keyed by name")
	}

	// Every served kind converts.
	for _, r := range registry.Builtin() {
		obj := r.New()
		obj.GetObjectKind().SetGroupVersionKind(r.GVK())
		if _, err := converter.ObjectToTyped(obj); err != nil {
			t.Errorf("%s: ObjectToTyped: %v", r.GVK(), err)
		}
	}
}

func TestKubectlExplain(t *testing.T) {
	d := buildDocs(t)
	client := openAPIV3Client(t, serveDocs(t, d))
	cases := []struct {
		gvr    schema.GroupVersionResource
		fields []string
		want   []string
	}{
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, []string{"spec", "template"},
			[]string{"GROUP:      apps", "KIND:       Deployment", "FIELD: template <PodTemplateSpec>", "spec\t<PodSpec>", "metadata\t<ObjectMeta>"}},
		{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, []string{"spec", "strategy", "rollingUpdate", "maxSurge"},
			[]string{"FIELD: maxSurge <IntOrString>"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "pods"}, []string{"spec", "containers"},
			[]string{"KIND:       Pod", "FIELD: containers <[]Container>", "name\t<string> -required-", "resources\t<ResourceRequirements>"}},
		{schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, nil,
			[]string{"KIND:       Node", "DESCRIPTION:", "Node is a worker node"}},
		{schema.GroupVersionResource{Group: "autoscaling", Version: "v1", Resource: "horizontalpodautoscalers"}, []string{"spec"},
			[]string{"VERSION:    v1", "targetCPUUtilizationPercentage"}},
	}
	for _, tc := range cases {
		t.Run(tc.gvr.String()+"/"+strings.Join(tc.fields, "."), func(t *testing.T) {
			var out bytes.Buffer
			if err := explainv2.PrintModelDescription(tc.fields, &out, client, tc.gvr, false, 0, "plaintext"); err != nil {
				t.Fatalf("explain: %v", err)
			}
			for _, want := range tc.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("explain output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestKubectlApplyPatchFromV3(t *testing.T) {
	d := buildDocs(t)
	cfg := serveDocs(t, d)
	client := openAPIV3Client(t, cfg)
	root := openapi3.NewRoot(client)
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")

	// kubectl apply decides the server validates fields from the PATCH operation's parameters.
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	verifier := resource.NewQueryParamVerifierV3(dyn, client, resource.QueryParamFieldValidation)
	for _, g := range []schema.GroupVersionKind{gvk, corev1.SchemeGroupVersion.WithKind("ConfigMap"), corev1.SchemeGroupVersion.WithKind("Namespace")} {
		if err := verifier.HasSupport(g); err != nil {
			t.Errorf("fieldValidation support for %v: %v", g, err)
		}
	}

	// kubectl apply builds its strategic merge patch from the schema with this GVK, as
	// pkg/cmd/apply/patcher.go does.
	gvSpec, err := root.GVSpec(gvk.GroupVersion())
	if err != nil {
		t.Fatalf("GVSpec: %v", err)
	}
	smpSupported := false
	for _, path := range gvSpec.Paths.Paths {
		if path.Patch == nil {
			continue
		}
		if opGVK, _ := path.Patch.Extensions[extGVK].(map[string]any); opGVK["group"] != gvk.Group || opGVK["version"] != gvk.Version || opGVK["kind"] != gvk.Kind {
			continue
		}
		if _, ok := path.Patch.RequestBody.Content["application/strategic-merge-patch+json"]; ok {
			smpSupported = true
		}
	}
	if !smpSupported {
		t.Error("no PATCH operation of Deployment accepts strategic merge patches")
	}
	var meta strategicpatch.PatchMetaFromOpenAPIV3
	for _, s := range gvSpec.Components.Schemas {
		if hasGVK(s.Extensions[extGVK], gvk.Group, gvk.Version, gvk.Kind) {
			meta = strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: gvSpec.Components.Schemas}
		}
	}
	if meta.Schema == nil {
		t.Fatal("no schema with the Deployment GVK")
	}

	original := testDeployment()
	modified := testDeployment()
	modified.Spec.Template.Spec.Containers[0].Image = "nginx:1.27"
	modified.Spec.Template.Spec.Containers = append(modified.Spec.Template.Spec.Containers, corev1.Container{Name: "sidecar", Image: "busybox"})
	current := testDeployment()
	current.Spec.Template.Spec.Containers[0].Env = append(current.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "INJECTED", Value: "x"})
	patch, err := strategicpatch.CreateThreeWayMergePatch(mustJSON(t, original), mustJSON(t, modified), mustJSON(t, current), meta, false)
	if err != nil {
		t.Fatalf("CreateThreeWayMergePatch: %v", err)
	}
	// A merge-keyed list patches by name; without the schema's merge key it would replace the
	// whole list and drop the env var another writer added.
	for _, want := range []string{`"$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}]`, `"image":"nginx:1.27"`, `"name":"sidecar"`} {
		if !strings.Contains(string(patch), want) {
			t.Errorf("patch %s lacks %s", patch, want)
		}
	}
	if strings.Contains(string(patch), "INJECTED") {
		t.Errorf("patch %s touches the env var it does not own", patch)
	}
}

func TestClientGoFetchesV2Protobuf(t *testing.T) {
	d := buildDocs(t)
	dc, err := discovery.NewDiscoveryClientForConfig(serveDocs(t, d))
	if err != nil {
		t.Fatalf("discovery client: %v", err)
	}
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatalf("OpenAPISchema: %v", err)
	}
	found := false
	for _, def := range doc.GetDefinitions().GetAdditionalProperties() {
		if def.Name == "io.k8s.api.core.v1.Pod" {
			found = true
		}
	}
	if !found {
		t.Error("v2 document fetched by client-go has no Pod definition")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}
