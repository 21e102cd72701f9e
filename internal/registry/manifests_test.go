package registry

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

// The TinyURL manifests of the first seed tutorial (testdata/tinyurl, copied unchanged from
// the published repository) must be accepted as written, and get upstream's defaults.
func TestTinyURLManifestsAreAccepted(t *testing.T) {
	files, err := filepath.Glob("testdata/tinyurl/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	resources := map[string]*Resource{}
	for _, r := range Builtin() {
		resources[r.GVK().String()] = r
	}
	decode := scheme.Codecs.UniversalDeserializer().Decode
	count := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		docs := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, gvk, err := decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("%s: decode: %v", file, err)
			}
			r := resources[gvk.String()]
			if r == nil {
				t.Fatalf("%s: %s is not served", file, gvk)
			}
			if m, ok := obj.(interface{ SetUID(types.UID) }); ok {
				m.SetUID("11111111-2222-4333-8444-555555555555")
			}
			if errs := create(r.Strategy, obj); len(errs) != 0 {
				t.Errorf("%s: %s rejected: %v", file, gvk.Kind, errs)
			}
			count++
			switch o := obj.(type) {
			case *appsv1.Deployment:
				c := o.Spec.Template.Spec.Containers[0]
				if c.ImagePullPolicy == "" || c.TerminationMessagePath == "" || *o.Spec.RevisionHistoryLimit != 10 {
					t.Errorf("%s: deployment %s not defaulted", file, o.Name)
				}
			case *corev1.Service:
				if o.Name == "frontend" && (o.Spec.Ports[0].NodePort != 30080 || o.Spec.Ports[0].TargetPort.IntValue() != 8001 ||
					o.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster) {
					t.Errorf("frontend service = %+v", o.Spec)
				}
			}
		}
	}
	if count != 9 {
		t.Errorf("checked %d objects, want 9", count)
	}
}
