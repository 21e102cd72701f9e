package envvar

import (
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeSources struct {
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
	services   []*v1.Service
}

func (f fakeSources) ConfigMap(ns, name string) (*v1.ConfigMap, error) {
	if cm, ok := f.configMaps[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f fakeSources) Secret(ns, name string) (*v1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f fakeSources) Services(ns string) ([]*v1.Service, error) {
	var out []*v1.Service
	for _, s := range f.services {
		if s.Namespace == ns {
			out = append(out, s)
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func TestResolve(t *testing.T) {
	src := fakeSources{
		configMaps: map[string]*v1.ConfigMap{
			"app/cfg": {Data: map[string]string{"MODE": "prod", "bad-name!": "x", "LEVEL": "3"}},
		},
		secrets: map[string]*v1.Secret{
			"app/db": {Data: map[string][]byte{"POSTGRES_PASSWORD": []byte("s3cret"), "user": []byte("admin")}},
		},
		services: []*v1.Service{
			{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"}, Spec: v1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []v1.ServicePort{{Name: "https", Port: 443, Protocol: v1.ProtocolTCP}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "redis-main", Namespace: "app"}, Spec: v1.ServiceSpec{ClusterIP: "10.43.0.20", Ports: []v1.ServicePort{{Port: 6379, Protocol: v1.ProtocolTCP}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "app"}, Spec: v1.ServiceSpec{ClusterIP: "None", Ports: []v1.ServicePort{{Port: 80}}}},
		},
	}
	pod := func(links *bool, c v1.Container) Pod {
		return Pod{
			Pod: &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "app", UID: "u-1", Labels: map[string]string{"app": "web"}},
				Spec:       v1.PodSpec{NodeName: "n1", EnableServiceLinks: links, Containers: []v1.Container{c}},
			},
			PodIPs:          []string{"10.42.0.5"},
			HostIPs:         []string{"192.168.1.2"},
			NodeAllocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("4Gi")},
		}
	}
	tests := []struct {
		name    string
		links   *bool
		c       v1.Container
		want    map[string]string // subset that must be present
		absent  []string
		wantErr string
	}{
		{
			name: "values, expansion and escapes",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "A", Value: "x"},
				{Name: "B", Value: "$(A)-$(MISSING)-$$(A)"},
				{Name: "C", Value: "$(REDIS_MAIN_SERVICE_HOST):$(REDIS_MAIN_SERVICE_PORT)"},
			}},
			want: map[string]string{"A": "x", "B": "x-$(MISSING)-$(A)", "C": "10.43.0.20:6379"},
		},
		{
			name: "envFrom configMap and secret with prefix, invalid keys skipped",
			c: v1.Container{EnvFrom: []v1.EnvFromSource{
				{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}},
				{Prefix: "DB_", SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "db"}}},
			}, Env: []v1.EnvVar{{Name: "MODE", Value: "override"}}},
			want:   map[string]string{"MODE": "override", "LEVEL": "3", "DB_POSTGRES_PASSWORD": "s3cret", "DB_user": "admin"},
			absent: []string{"bad-name!"},
		},
		{
			name: "key refs and field refs",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "PW", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "db"}, Key: "POSTGRES_PASSWORD"}}},
				{Name: "M", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Key: "MODE"}}},
				{Name: "OPT", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: ptr(true)}}},
				{Name: "POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "NS", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				{Name: "IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				{Name: "HOST", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
				{Name: "NODE", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "APP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			}},
			want:   map[string]string{"PW": "s3cret", "M": "prod", "POD": "web-1", "NS": "app", "IP": "10.42.0.5", "HOST": "192.168.1.2", "NODE": "n1", "APP": "web"},
			absent: []string{"OPT"},
		},
		{
			name: "resource field refs with divisors and node fallback",
			c: v1.Container{
				Resources: v1.ResourceRequirements{
					Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
					Limits:   v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")},
				},
				Env: []v1.EnvVar{
					{Name: "REQ_CPU", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
					{Name: "REQ_CPU_CORES", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "requests.cpu"}}},
					{Name: "LIM_MEM", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
					{Name: "LIM_CPU", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.cpu"}}},
				},
			},
			want: map[string]string{"REQ_CPU": "250", "REQ_CPU_CORES": "1", "LIM_MEM": "64", "LIM_CPU": "2"},
		},
		{
			name: "service links",
			c:    v1.Container{},
			want: map[string]string{
				"REDIS_MAIN_SERVICE_HOST": "10.43.0.20", "REDIS_MAIN_SERVICE_PORT": "6379",
				"REDIS_MAIN_PORT": "tcp://10.43.0.20:6379", "REDIS_MAIN_PORT_6379_TCP_ADDR": "10.43.0.20",
				"REDIS_MAIN_PORT_6379_TCP_PROTO": "tcp", "KUBERNETES_SERVICE_HOST": "10.43.0.1",
				"KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
			},
			absent: []string{"HEADLESS_SERVICE_HOST"},
		},
		{
			name:   "service links disabled keeps the master service",
			links:  ptr(false),
			c:      v1.Container{},
			want:   map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1"},
			absent: []string{"REDIS_MAIN_SERVICE_HOST"},
		},
		{
			name:    "missing configmap is an error",
			c:       v1.Container{EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}}}},
			wantErr: `configmap "nope" not found`,
		},
		{
			name:    "missing secret key is an error",
			c:       v1.Container{Env: []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "db"}, Key: "nokey"}}}}},
			wantErr: "couldn't find key nokey in Secret app/db",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			vars, err := Resolve(src, pod(tc.links, c), &c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, v := range vars {
				if _, dup := got[v.Name]; dup {
					t.Errorf("variable %s appears twice", v.Name)
				}
				got[v.Name] = v.Value
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tc.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s should be absent", k)
				}
			}
		})
	}
}

func TestExpandAll(t *testing.T) {
	env := []Var{{"GREETING", "hi"}, {"NAME", "bob"}}
	got := ExpandAll([]string{"echo", "$(GREETING) $(NAME)", "$(NOPE)", "$$(NAME)", "100$", "$(unclosed"}, env)
	want := []string{"echo", "hi bob", "$(NOPE)", "$(NAME)", "100$", "$(unclosed"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
