package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// FuzzDecodeBody feeds arbitrary bytes to the request decoders: they may reject input but must
// never panic. Run longer with: go test -fuzz FuzzDecodeBody ./internal/apiserver
func FuzzDecodeBody(f *testing.F) {
	c, err := newCodecs()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}`), uint8(0))
	f.Add([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"), uint8(1))
	f.Add([]byte("k8s\x00\x0a\x04\x0a\x02v1"), uint8(2))
	f.Add([]byte(`{"metadata":{"name":"p","name":"q"}}`), uint8(0))
	f.Add([]byte(`[{"op":"add","path":"/x","value":1}]`), uint8(3))
	types := []string{"application/json", "application/yaml", protobufType, "application/json-patch+json"}
	gvk := corev1.SchemeGroupVersion.WithKind("Pod")
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		ct := types[int(which)%len(types)]
		_, _, _ = c.decodeBody(ct, body, gvk, &corev1.Pod{}, "Strict")
		_, _, _ = c.decodeBody(ct, body, gvk, &corev1.Pod{}, "Ignore")
		_ = c.decodeOptions(ct, body, &corev1.Binding{})
	})
}
