package ownedfields

import (
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// walkerFor builds a Walker for obj's kind from client-go's schema of the
// built-in types, as the API server does.
func walkerFor(t *testing.T, obj runtime.Object) *Walker {
	t.Helper()
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		t.Fatal(err)
	}
	empty := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
	empty.GetObjectKind().SetGroupVersionKind(gvks[0])
	tv, err := applyconfigurations.NewTypeConverter(scheme.Scheme).ObjectToTyped(empty, typed.AllowDuplicates)
	if err != nil {
		t.Fatal(err)
	}
	return New(tv.Schema(), tv.TypeRef(), reflect.TypeOf(obj).Elem())
}

func TestWalk(t *testing.T) {
	cases := []struct {
		name string
		obj  runtime.Object
		want string // "" for no owned fields
	}{
		{"configmap data and labels", &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default", UID: "u", Labels: map[string]string{"app": "web"}},
			Data:       map[string]string{"b": "2", "a": "1"}},
			`{"f:data":{".":{},"f:a":{},"f:b":{}},"f:metadata":{"f:labels":{".":{},"f:app":{}}}}`},
		{"server-set metadata is nobody's", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default",
			UID: "u", ResourceVersion: "5", Generation: 1, CreationTimestamp: metav1.Now()}}, ""},
		{"keys that JSON escapes", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a",
			Annotations: map[string]string{`say "hi"`: "", "a<b": ""}}},
			`{"f:metadata":{"f:annotations":{".":{},"f:a<b":{},"f:say \"hi\"":{}}}}`},
		{"keyed lists, a defaulted key and a set", &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Finalizers: []string{"x"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i",
				Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}},
			`{"f:metadata":{"f:finalizers":{".":{},"v:\"x\"":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{},` +
				`"f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}},"f:resources":{}}}}}`},
		{"entries sharing a key are owned whole", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i", Env: []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "A", Value: "2"}}}}}},
			`{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:env":{".":{},"k:{\"name\":\"A\"}":{}},"f:image":{},"f:name":{},"f:resources":{}}}}}`},
		{"atomic struct the empty object holds", &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p"}, Count: 1},
			`{"f:count":{},"f:involvedObject":{}}`}, // eventTime etc. are null in both: nobody's
		{"int-or-string", &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: corev1.ServiceSpec{
			Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}}, Type: corev1.ServiceTypeClusterIP}},
			`{"f:spec":{"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:type":{}}}`},
		{"immutable flag", &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Immutable: ptr.To(true), Data: map[string][]byte{"k": nil}},
			`{"f:data":{".":{},"f:k":{}},"f:immutable":{}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, ok := walkerFor(t, tc.obj).Walk(tc.obj)
			if !ok {
				t.Fatal("declined")
			}
			if string(raw) != tc.want {
				t.Errorf("got  %s\nwant %s", raw, tc.want)
			}
		})
	}
}

func TestWalkDeclines(t *testing.T) {
	w := walkerFor(t, &corev1.ConfigMap{})
	for name, obj := range map[string]any{
		"another type":  &corev1.Secret{},
		"not a pointer": corev1.ConfigMap{},
		"a nil pointer": (*corev1.ConfigMap)(nil),
	} {
		if _, ok := w.Walk(obj); ok {
			t.Errorf("%s: walked", name)
		}
	}
	// Untyped JSON that is not a scalar: the generic walk deduces its atoms.
	rw := walkerFor(t, &appsv1.ControllerRevision{})
	if _, ok := rw.Walk(&appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{"a":1}`)}}); ok {
		t.Error("a revision with JSON data: walked")
	}
}
