package registry

import (
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// eventStrategy serves core/v1 and events.k8s.io/v1 events, which are one stored kind. Events
// have no defaults or validation of their own here; field selectors use the core/v1 names in
// both groups, as upstream does.
type eventStrategy struct{ baseStrategy }

func (eventStrategy) FieldSet(obj runtime.Object) fields.Set {
	switch e := obj.(type) {
	case *corev1.Event:
		source := e.Source.Component
		if source == "" {
			source = e.ReportingController
		}
		return eventFields(e.InvolvedObject, e.Reason, e.ReportingController, source, e.Type)
	case *eventsv1.Event:
		source := e.DeprecatedSource.Component
		if source == "" {
			source = e.ReportingController
		}
		return eventFields(e.Regarding, e.Reason, e.ReportingController, source, e.Type)
	}
	return nil
}

func eventFields(ref corev1.ObjectReference, reason, reportingController, source, eventType string) fields.Set {
	return fields.Set{
		"involvedObject.kind":            ref.Kind,
		"involvedObject.namespace":       ref.Namespace,
		"involvedObject.name":            ref.Name,
		"involvedObject.uid":             string(ref.UID),
		"involvedObject.apiVersion":      ref.APIVersion,
		"involvedObject.resourceVersion": ref.ResourceVersion,
		"involvedObject.fieldPath":       ref.FieldPath,
		"reason":                         reason,
		"reportingComponent":             reportingController,
		"source":                         source,
		"type":                           eventType,
	}
}
