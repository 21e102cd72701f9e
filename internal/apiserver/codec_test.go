package apiserver

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKeptWrites(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		want   string
	}{
		{"none", nil, ""},
		{"one", []string{"abc"}, "abc"},
		{"several", []string{"ab", "", "cd", "e"}, "abcde"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k keptWrites
			for _, w := range tc.writes {
				if n, err := k.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if string(k.data) != tc.want {
				t.Fatalf("got %q, want %q", k.data, tc.want)
			}
		})
	}
	// A later write never lands in the spare room of the first buffer, which is the writer's.
	first := make([]byte, 2, 8)
	copy(first, "ab")
	var k keptWrites
	_, _ = k.Write(first)
	_, _ = k.Write([]byte("cd"))
	if !bytes.Equal(first[:cap(first)][2:4], []byte{0, 0}) {
		t.Fatalf("second write went into the first buffer: %q", first[:cap(first)])
	}
}

func TestEncodeProtoRoundTrip(t *testing.T) {
	c, err := newCodecs()
	if err != nil {
		t.Fatal(err)
	}
	in := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "default", Labels: map[string]string{"a": "b"}}, Data: map[string]string{"k": "v"}}
	data, err := c.encodeProto(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &corev1.ConfigMap{}
	if _, _, err := c.proto.Decode(data, nil, out); err != nil {
		t.Fatal(err)
	}
	out.TypeMeta = in.TypeMeta
	if !apiequality.Semantic.DeepEqual(in, out) {
		t.Fatalf("round trip: got %+v, want %+v", out, in)
	}
}
