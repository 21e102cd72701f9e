package volume

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
)

type fakeSources struct {
	cms     map[string]*v1.ConfigMap
	secrets map[string]*v1.Secret
}

func (f fakeSources) ConfigMap(ns, name string) (*v1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
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

// visible lists the user-visible files of a projected volume with content.
func visible(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name()[0] == '.' {
			continue
		}
		p := filepath.Join(dir, e.Name())
		_ = filepath.Walk(p+"/", func(path string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				data, _ := os.ReadFile(path)
				rel, _ := filepath.Rel(dir, path)
				out[rel] = string(data)
			}
			return nil
		})
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			out[e.Name()] = string(data)
		}
	}
	return out
}

func TestWriteAtomicUpdates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	steps := []struct {
		payload Payload
		changed bool
		want    map[string]string
	}{
		{Payload{"a": {Data: []byte("1")}, "sub/b": {Data: []byte("2")}}, true, map[string]string{"a": "1", "sub/b": "2"}},
		{Payload{"a": {Data: []byte("1")}, "sub/b": {Data: []byte("2")}}, false, map[string]string{"a": "1", "sub/b": "2"}},
		{Payload{"a": {Data: []byte("changed")}}, true, map[string]string{"a": "changed"}},
		{Payload{"a": {Data: []byte("changed"), Mode: 0o400}}, true, map[string]string{"a": "changed"}},
	}
	for i, s := range steps {
		changed, err := WriteAtomic(dir, s.payload)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if changed != s.changed {
			t.Errorf("step %d: changed = %v, want %v", i, changed, s.changed)
		}
		got := visible(t, dir)
		if len(got) != len(s.want) {
			t.Errorf("step %d: files %v, want %v", i, got, s.want)
		}
		for k, v := range s.want {
			if got[k] != v {
				t.Errorf("step %d: %s = %q, want %q", i, k, got[k], v)
			}
		}
		// Exactly one timestamped data folder remains.
		entries, _ := os.ReadDir(dir)
		var hidden []string
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "..") {
				hidden = append(hidden, e.Name())
			}
		}
		sort.Strings(hidden)
		if len(hidden) != 2 || hidden[1] != "..data" {
			t.Errorf("step %d: hidden entries %v", i, hidden)
		}
	}
	info, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil || info.Mode().Perm() != 0o400 {
		t.Errorf("mode of a: %v %v", info.Mode(), err)
	}
	if _, err := WriteAtomic(dir, Payload{"../escape": {Data: []byte("x")}}); err == nil {
		t.Error("a path leaving the volume must be refused")
	}
}

func TestSetupProjections(t *testing.T) {
	optional := true
	mode := int32(0o600)
	src := fakeSources{
		cms:     map[string]*v1.ConfigMap{"ns/cfg": {Data: map[string]string{"app.conf": "x=1", "other": "y"}}},
		secrets: map[string]*v1.Secret{"ns/db": {Data: map[string][]byte{"password": []byte("pw")}}},
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{Volumes: []v1.Volume{
			{Name: "all", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}},
			{Name: "items", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Items: []v1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}}}}},
			{Name: "missing-optional", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Optional: &optional}}},
			{Name: "secret", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "db", DefaultMode: &mode}}},
			{Name: "downward", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
				{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			}}}},
			{Name: "token", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []v1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}},
			{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		}},
	}
	m := &Manager{Dir: t.TempDir(), Sources: src, Client: fake.NewClientset(), RootCA: []byte("CA PEM")}
	mounts, err := m.Setup(context.Background(), pod, []string{"10.42.0.9"}, []string{"192.168.0.2"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		vol, file, want string
	}{
		{"all", "app.conf", "x=1"},
		{"all", "other", "y"},
		{"items", "conf/app.conf", "x=1"},
		{"secret", "password", "pw"},
		{"downward", "name", "web"},
		{"downward", "labels", `app="web"`},
		{"token", "ca.crt", "CA PEM"},
		{"token", "namespace", "ns"},
	}
	for _, c := range checks {
		data, err := os.ReadFile(filepath.Join(mounts[c.vol].HostPath, c.file))
		if err != nil || string(data) != c.want {
			t.Errorf("%s/%s = %q, %v; want %q", c.vol, c.file, data, err, c.want)
		}
	}
	// The fake clientset has no TokenRequest reactor: the token is a placeholder or a
	// fake token, but the file must exist so the pod starts.
	if _, err := os.Stat(filepath.Join(mounts["token"].HostPath, "token")); err != nil {
		t.Errorf("token file: %v", err)
	}
	if info, _ := os.Stat(filepath.Join(mounts["secret"].HostPath, "password")); info.Mode().Perm() != 0o600 {
		t.Errorf("secret mode %v", info.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(mounts["items"].HostPath, "other")); err == nil {
		t.Error("items must project only the listed keys")
	}
	if !mounts["all"].ReadOnly || mounts["scratch"].ReadOnly {
		t.Error("projected volumes are read-only, emptyDir is writable")
	}

	// A ConfigMap update shows up after the next Setup.
	src.cms["ns/cfg"] = &v1.ConfigMap{Data: map[string]string{"app.conf": "x=2"}}
	if _, err := m.Setup(context.Background(), pod, nil, nil); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(mounts["all"].HostPath, "app.conf")); string(data) != "x=2" {
		t.Errorf("after update app.conf = %q", data)
	}
	if _, err := os.Stat(filepath.Join(mounts["all"].HostPath, "other")); err == nil {
		t.Error("a key removed from the ConfigMap must disappear")
	}

	if err := m.Teardown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.PodDir(pod.UID)); !os.IsNotExist(err) {
		t.Errorf("pod dir still there: %v", err)
	}
}

func TestSetupMissingConfigMapFails(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"}, Spec: v1.PodSpec{Volumes: []v1.Volume{
		{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "absent"}}}},
	}}}
	m := &Manager{Dir: t.TempDir(), Sources: fakeSources{}, Client: fake.NewClientset()}
	if _, err := m.Setup(context.Background(), pod, nil, nil); err == nil {
		t.Fatal("a missing non-optional ConfigMap must fail the mount")
	}
}

func TestSubPath(t *testing.T) {
	base := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(base, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sub     string
		wantErr bool
	}{
		{"data", false},
		{"a/b/c", false},
		{"", false},
		{"../x", true},
		{"/abs", true},
		{"link", true},
	} {
		got, err := SubPath(base, tc.sub)
		if (err != nil) != tc.wantErr {
			t.Errorf("SubPath(%q) err = %v, wantErr %v", tc.sub, err, tc.wantErr)
			continue
		}
		if err == nil {
			if info, err := os.Stat(got); err != nil || !info.IsDir() {
				t.Errorf("SubPath(%q) = %s not a directory", tc.sub, got)
			}
		}
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	_ = os.WriteFile(file, nil, 0o644)
	typ := func(t v1.HostPathType) *v1.HostPathType { return &t }
	for _, tc := range []struct {
		path    string
		typ     *v1.HostPathType
		wantErr bool
	}{
		{filepath.Join(dir, "new/dir"), typ(v1.HostPathDirectoryOrCreate), false},
		{filepath.Join(dir, "new/file"), typ(v1.HostPathFileOrCreate), false},
		{dir, typ(v1.HostPathDirectory), false},
		{file, typ(v1.HostPathDirectory), true},
		{file, typ(v1.HostPathFile), false},
		{filepath.Join(dir, "absent"), typ(v1.HostPathFile), true},
		{filepath.Join(dir, "absent"), nil, false},
	} {
		err := prepareHostPath(&v1.HostPathVolumeSource{Path: tc.path, Type: tc.typ})
		if (err != nil) != tc.wantErr {
			t.Errorf("%s %v: err = %v, wantErr %v", tc.path, tc.typ, err, tc.wantErr)
		}
	}
}
