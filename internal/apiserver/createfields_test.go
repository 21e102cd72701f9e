package apiserver

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/randfill"

	"github.com/skiff-sh/skiff/internal/registry"
)

// createFieldsFixture is what newResourceHandler builds for one kind: the
// generic field manager and the create shortcut, on the same type converter.
type createFieldsFixture struct {
	res  *registry.Resource
	fm   *managedfields.FieldManager
	fast *createFields
}

func newCreateFieldsFixtures(t testing.TB) map[string]createFieldsFixture {
	t.Helper()
	sch := runtime.NewScheme()
	if err := scheme.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(sch); err != nil {
		t.Fatal(err)
	}
	builtin := applyconfigurations.NewTypeConverter(sch)
	deduced := managedfields.NewDeducedTypeConverter()
	out := map[string]createFieldsFixture{}
	for _, r := range registry.Builtin() {
		tc := builtin
		if r.Group == crdGR.Group {
			tc = deduced
		}
		fm, err := managedfields.NewDefaultFieldManager(tc, runtime.UnsafeObjectConvertor(sch), strategyDefaulter{r.Strategy}, sch,
			r.GVK(), r.GVK().GroupVersion(), "", nil)
		if err != nil {
			t.Fatalf("%s: %v", r.GVK(), err)
		}
		fast, err := newCreateFields(tc, r.New(), r.GVK())
		if err != nil {
			t.Fatalf("%s: %v", r.GVK(), err)
		}
		out[r.GVK().GroupVersion().String()+"/"+r.GVK().Kind] = createFieldsFixture{res: r, fm: fm, fast: fast}
	}
	return out
}

// prepare does to obj what createObject does before the managed fields.
func (f createFieldsFixture) prepare(obj runtime.Object) runtime.Object {
	obj.GetObjectKind().SetGroupVersionKind(f.res.GVK())
	acc := obj.(metav1.Object)
	acc.SetUID("0b6c1ee5-2f4c-4d7e-9d0b-5b3d1c1c9e11")
	acc.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)))
	f.res.Strategy.PrepareForCreate(obj)
	f.res.Strategy.Default(obj)
	return obj
}

func TestCreateFieldsMatchesFieldManager(t *testing.T) {
	fixtures := newCreateFieldsFixtures(t)
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: "default"}
	}
	podSpec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox", Command: []string{"sh", "-c", "true"}}},
		Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.27", Args: []string{"-g", "daemon off;"},
			Ports:          []corev1.ContainerPort{{ContainerPort: 80, Name: "http"}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
			Env:            []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			EnvFrom:        []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
			Resources:      corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80)}}},
			VolumeMounts:   []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
		}, {Name: "side", Image: "busybox"}},
		Volumes:      []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		NodeSelector: map[string]string{"disk": "ssd"},
		Tolerations:  []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}},
	}
	cases := []struct {
		kind string
		obj  runtime.Object
	}{
		{"v1/ConfigMap", &corev1.ConfigMap{ObjectMeta: meta("bench"), Data: map[string]string{"k": "v"}}},
		{"v1/ConfigMap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "labelled", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{"note": ""}, Finalizers: []string{"example.com/f"}},
			Data: map[string]string{"k": "", "x.conf": "y"}, BinaryData: map[string][]byte{"b": {0, 1}}, Immutable: ptr.To(true)}},
		{"v1/ConfigMap", &corev1.ConfigMap{ObjectMeta: meta("nothing")}},
		{"v1/ConfigMap", &corev1.ConfigMap{ObjectMeta: meta("empty-map"), Data: map[string]string{}}},
		{"v1/ConfigMap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "gen-", Name: "gen-abcde",
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "d", UID: "u1", Controller: ptr.To(true)}}}}},
		{"v1/ConfigMap", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "client-side-applied", Annotations: map[string]string{
			corev1.LastAppliedConfigAnnotation: `{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"name":"client-side-applied"}}`}},
			Data: map[string]string{"k": "v"}}},
		{"v1/Secret", &corev1.Secret{ObjectMeta: meta("s"), StringData: map[string]string{"p": "q"}, Type: corev1.SecretTypeOpaque}},
		{"v1/Pod", &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "web"}}, Spec: podSpec}},
		{"v1/Pod", &corev1.Pod{ObjectMeta: meta("bare"), Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}},
		{"apps/v1/Deployment", &appsv1.Deployment{ObjectMeta: meta("web"), Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: podSpec}}}},
		{"apps/v1/StatefulSet", &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
			ServiceName: "db", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}}, Spec: podSpec},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}}}},
		{"v1/Service", &corev1.Service{ObjectMeta: meta("web"), Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}}}}},
		{"v1/Namespace", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"x": "y"}}}},
		{"v1/Node", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.1.0/24"},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}},
		{"v1/Event", &corev1.Event{ObjectMeta: meta("e.1"), InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "default"},
			Reason: "Started", Message: "m", Type: corev1.EventTypeNormal, Count: 1, Source: corev1.EventSource{Component: "kubelet"}}},
		{"rbac.authorization.k8s.io/v1/ClusterRole", &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "r"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}},
		{"apiextensions.k8s.io/v1/CustomResourceDefinition", &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
				Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Kind: "Widget"},
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}}}}}},
	}
	// Every kind's smallest object too: the empty object's own fields are where a shortcut would differ.
	for key, f := range fixtures {
		obj := f.res.New()
		obj.(metav1.Object).SetName("minimal")
		if f.res.Namespaced {
			obj.(metav1.Object).SetNamespace("default")
		}
		cases = append(cases, struct {
			kind string
			obj  runtime.Object
		}{key, obj})
	}
	for _, tc := range cases {
		f, ok := fixtures[tc.kind]
		if !ok {
			t.Fatalf("no fixture for %s", tc.kind)
		}
		name := tc.kind + "/" + tc.obj.(metav1.Object).GetName()
		obj := f.prepare(tc.obj)
		empty := f.res.New()
		empty.GetObjectKind().SetGroupVersionKind(f.res.GVK())
		want := f.fm.UpdateNoErrors(empty, obj.DeepCopyObject(), "kubectl-create").(metav1.Object).GetManagedFields()
		if _, ok := f.fast.fastOwned(obj); !ok && f.res.Group != crdGR.Group {
			t.Errorf("%s: the walker declined a plain create", name)
		}
		got := obj.DeepCopyObject()
		if !f.fast.set(got, "kubectl-create", time.Now()) {
			t.Errorf("%s: shortcut declined a plain create", name)
			continue
		}
		gotFields := got.(metav1.Object).GetManagedFields()
		if len(gotFields) != len(want) {
			t.Errorf("%s: %d entries, the field manager writes %d: %+v", name, len(gotFields), len(want), want)
			continue
		}
		for i := range want {
			w, g := want[i], gotFields[i]
			if w.Time == nil || g.Time == nil || g.Time.Sub(w.Time.Time).Abs() > time.Minute {
				t.Errorf("%s: time %v, the field manager's %v", name, g.Time, w.Time)
			}
			w.Time, g.Time = nil, nil
			if w.Manager != g.Manager || w.Operation != g.Operation || w.APIVersion != g.APIVersion || w.FieldsType != g.FieldsType ||
				w.Subresource != g.Subresource || !bytes.Equal(w.FieldsV1.Raw, g.FieldsV1.Raw) {
				t.Errorf("%s:\n got %+v %s\nwant %+v %s", name, g, g.FieldsV1.Raw, w, w.FieldsV1.Raw)
			}
		}
	}
}

func TestCreateFieldsDeclines(t *testing.T) {
	fixtures := newCreateFieldsFixtures(t)
	cm := fixtures["v1/ConfigMap"]
	sent := cm.prepare(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a", ManagedFields: []metav1.ManagedFieldsEntry{{
		Manager: "other", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:data":{}}`)}}}}})
	otherKind := cm.prepare(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	otherKind.GetObjectKind().SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	unstructuredCM := &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]interface{}{"name": "c"}, "data": map[string]interface{}{"k": "v"}}}
	for name, obj := range map[string]runtime.Object{"own managedFields": sent, "another kind": otherKind, "unstructured": unstructuredCM} {
		before := obj.DeepCopyObject()
		if cm.fast.set(obj, "m", time.Now()) {
			t.Errorf("%s: shortcut taken", name)
		}
		if !equality.Semantic.DeepEqual(before, obj) {
			t.Errorf("%s: declined but changed the object", name)
		}
	}
}

// BenchmarkCreateManagedFields compares the shortcut with the generic field
// manager on the ConfigMap bench/apiserver creates.
func BenchmarkCreateManagedFields(b *testing.B) {
	f := newCreateFieldsFixtures(b)["v1/ConfigMap"]
	newCM := func() runtime.Object {
		return f.prepare(&corev1.ConfigMap{ObjectMeta: meta0("cm-000001"), Data: map[string]string{"k": "v"}})
	}
	b.Run("fieldmanager", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			empty := f.res.New()
			empty.GetObjectKind().SetGroupVersionKind(f.res.GVK())
			f.fm.UpdateNoErrors(empty, newCM(), "m")
		}
	})
	b.Run("shortcut", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.fast.set(newCM(), "m", time.Now())
		}
	})
}

func meta0(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "default"} }

// TestCreateFieldsConcurrent: one shortcut per kind serves every create of
// that kind at once (run with -race).
func TestCreateFieldsConcurrent(t *testing.T) {
	f := newCreateFieldsFixtures(t)["v1/Pod"]
	newPod := func(i int) runtime.Object {
		return f.prepare(&corev1.Pod{ObjectMeta: meta0("p"), Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "c", Image: "i", Env: []corev1.EnvVar{{Name: "N", Value: string(rune('a' + i%26))}}}}}})
	}
	want := newPod(0)
	if !f.fast.set(want, "m", time.Now()) {
		t.Fatal("shortcut declined")
	}
	wantRaw := want.(metav1.Object).GetManagedFields()[0].FieldsV1.Raw
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				obj := newPod(i)
				if !f.fast.set(obj, "m", time.Now()) {
					done <- fmt.Errorf("declined")
					return
				}
				if got := obj.(metav1.Object).GetManagedFields()[0].FieldsV1.Raw; !bytes.Equal(got, wantRaw) {
					done <- fmt.Errorf("got %s, want %s", got, wantRaw)
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestCreateFieldsWalkMatchesComparison holds the walker to structured-merge-diff's
// comparison, byte for byte, on randomly filled objects of every built-in kind:
// wherever the walker answers, the comparison must answer the same. It must
// answer for most objects, or it is no shortcut.
func TestCreateFieldsWalkMatchesComparison(t *testing.T) {
	fixtures := newCreateFieldsFixtures(t)
	const perKind = 300
	filler := randfill.NewWithSeed(20261122).NilChance(0.3).NumElements(0, 2).MaxDepth(8).Funcs(
		func(q *resource.Quantity, c randfill.Continue) {
			*q = *resource.NewQuantity(c.Int63n(1000), resource.DecimalSI)
		},
		func(r *runtime.RawExtension, c randfill.Continue) { *r = runtime.RawExtension{} },
		func(m *metav1.ObjectMeta, c randfill.Continue) {
			c.FillNoCustom(m)
			m.ManagedFields = nil // a create that brings its own takes the generic path
		},
		// Keys and names as the API allows them: the walker declines what JSON must escape.
		func(s *string, c randfill.Continue) {
			const alphabet = "abcxyz09-._/"
			b := make([]byte, c.Intn(6))
			for i := range b {
				b[i] = alphabet[c.Intn(len(alphabet))]
			}
			*s = string(b)
		},
	)
	for key, f := range fixtures {
		if f.res.Group == crdGR.Group {
			continue // typed by the deduced converter: the walker declines by design
		}
		answered := 0
		for i := 0; i < perKind; i++ {
			obj := f.res.New()
			filler.Fill(obj)
			obj.GetObjectKind().SetGroupVersionKind(f.res.GVK())
			fast, ok := f.fast.fastOwned(obj)
			if !ok {
				continue
			}
			answered++
			want, ok := f.fast.comparedOwned(obj)
			if !ok {
				t.Errorf("%s #%d: the walker answered %s, the comparison refused the object", key, i, fast)
				continue
			}
			if !bytes.Equal(fast, want) {
				t.Errorf("%s #%d:\n walker %s\ncompare %s", key, i, fast, want)
			}
		}
		if answered < perKind/2 {
			t.Errorf("%s: the walker answered %d of %d objects", key, answered, perKind)
		}
	}
}
