package serviceaccount

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func TestSync(t *testing.T) {
	now := metav1.Now()
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", DeletionTimestamp: &now},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	existing := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}}

	tests := []struct {
		name       string
		objects    []runtime.Object
		wantCreate bool
	}{
		{name: "new namespace gets default", objects: []runtime.Object{active}, wantCreate: true},
		{name: "default already there", objects: []runtime.Object{active, existing}},
		{name: "terminating namespace is left alone", objects: []runtime.Object{terminating}},
		{name: "namespace gone", objects: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.objects...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory)
			for _, o := range tc.objects {
				switch o := o.(type) {
				case *corev1.Namespace:
					_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
				case *corev1.ServiceAccount:
					_ = factory.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(o)
				}
			}
			client.ClearActions()
			if err := c.sync(context.Background(), "team"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var created bool
			for _, a := range client.Actions() {
				if ca, ok := a.(k8stesting.CreateAction); ok && a.GetResource().Resource == "serviceaccounts" {
					sa := ca.GetObject().(*corev1.ServiceAccount)
					if sa.Name != "default" || sa.Namespace != "team" {
						t.Errorf("created %s/%s, want team/default", sa.Namespace, sa.Name)
					}
					created = true
				}
			}
			if created != tc.wantCreate {
				t.Errorf("created = %v, want %v (actions %v)", created, tc.wantCreate, client.Actions())
			}
		})
	}
}

func TestRecreatesDeletedDefault(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: "team"}}
	client := fake.NewClientset(ns)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory)
	_ = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)

	// The delete handler must enqueue the namespace of a deleted default ServiceAccount, also
	// when it arrives as a tombstone.
	c.onServiceAccountDelete(cache.DeletedFinalStateUnknown{Key: "team/default", Obj: sa})
	if c.queue.Len() != 1 {
		t.Fatalf("queue length %d after delete of default, want 1", c.queue.Len())
	}
	if err := c.sync(context.Background(), "team"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts("team").Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default not recreated: %v", err)
	}
}
