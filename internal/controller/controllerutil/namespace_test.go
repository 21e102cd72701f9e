package controllerutil

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestActiveNamespace(t *testing.T) {
	now := metav1.Now()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = indexer.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "active"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}})
	_ = indexer.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "deleting", DeletionTimestamp: &now}})
	_ = indexer.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "terminating"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}})
	lister := corelisters.NewNamespaceLister(indexer)
	for name, want := range map[string]bool{"active": true, "deleting": false, "terminating": false, "gone": false} {
		if got, err := ActiveNamespace(lister, name); got != want || err != nil {
			t.Errorf("ActiveNamespace(%s) = %v, %v; want %v, nil", name, got, err, want)
		}
	}
}

func TestIgnoreCreateRace(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	terminating := apierrors.NewForbidden(gr, "x", errors.New("namespace is terminating"))
	terminating.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}
	other := errors.New("connection refused")
	forbidden := apierrors.NewForbidden(gr, "x", errors.New("no"))
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"success", nil, nil},
		{"already exists", apierrors.NewAlreadyExists(gr, "x"), nil},
		{"namespace terminating", terminating, nil},
		{"other forbidden", forbidden, forbidden},
		{"other error", other, other},
	}
	for _, tt := range tests {
		if got := IgnoreCreateRace(tt.err); got != tt.want {
			t.Errorf("%s: IgnoreCreateRace = %v, want %v", tt.name, got, tt.want)
		}
	}
}
