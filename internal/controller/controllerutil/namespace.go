package controllerutil

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Terminating reports whether ns is being deleted: it rejects new content
// while the namespace controller empties it.
func Terminating(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}

// ActiveNamespace reports whether the namespace name exists in the lister
// and is not terminating: the namespaces a controller fills with objects.
func ActiveNamespace(lister corelisters.NamespaceLister, name string) (bool, error) {
	ns, err := lister.Get(name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("getting namespace %s: %w", name, err)
	}
	return !Terminating(ns), nil
}

// IgnoreCreateRace returns nil for the outcomes of a create that lost a race
// with the cache it was decided on: the object exists already, or its
// namespace started terminating after the read. Other errors pass through.
func IgnoreCreateRace(err error) error {
	if apierrors.IsAlreadyExists(err) || (apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)) {
		return nil
	}
	return err
}
