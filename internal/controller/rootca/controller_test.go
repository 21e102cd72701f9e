package rootca

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const ca = "-----BEGIN CERTIFICATE-----\nskiff test CA\n-----END CERTIFICATE-----\n"

func TestSync(t *testing.T) {
	now := metav1.Now()
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", DeletionTimestamp: &now},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	cm := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: "team"}, Data: data}
	}
	tests := []struct {
		name    string
		objects []runtime.Object
		want    string // "create", "update" or "" (no write)
	}{
		{name: "new namespace gets the CA", objects: []runtime.Object{active}, want: "create"},
		{name: "already published", objects: []runtime.Object{active, cm(map[string]string{Key: ca})}},
		{name: "changed data is put back", objects: []runtime.Object{active, cm(map[string]string{Key: "old", "extra": "x"})}, want: "update"},
		{name: "terminating namespace is left alone", objects: []runtime.Object{terminating}},
		{name: "namespace gone", objects: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.objects...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory, []byte(ca))
			for _, o := range tc.objects {
				switch o := o.(type) {
				case *corev1.Namespace:
					_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
				case *corev1.ConfigMap:
					_ = c.cmFactory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(o)
				}
			}
			client.ClearActions()
			if err := c.sync(context.Background(), "team"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got := ""
			for _, a := range client.Actions() {
				if a.GetResource().Resource != "configmaps" {
					continue
				}
				w, ok := a.(k8stesting.CreateAction) // updates carry an object the same way
				if !ok || (a.GetVerb() != "create" && a.GetVerb() != "update") {
					continue
				}
				got = a.GetVerb()
				written := w.GetObject().(*corev1.ConfigMap)
				if written.Namespace != "team" || written.Name != Name || len(written.Data) != 1 || written.Data[Key] != ca {
					t.Errorf("%s wrote %s/%s %v, want team/%s with only the CA", got, written.Namespace, written.Name, written.Data, Name)
				}
			}
			if got != tc.want {
				t.Errorf("write = %q, want %q (actions %v)", got, tc.want, client.Actions())
			}
		})
	}
}
