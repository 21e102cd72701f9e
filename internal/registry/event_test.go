package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
)

func TestEventFieldSet(t *testing.T) {
	ref := corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: "u1", APIVersion: "v1", ResourceVersion: "7", FieldPath: "spec.containers{app}"}
	want := fields.Set{
		"involvedObject.kind": "Pod", "involvedObject.namespace": "default", "involvedObject.name": "web",
		"involvedObject.uid": "u1", "involvedObject.apiVersion": "v1", "involvedObject.resourceVersion": "7",
		"involvedObject.fieldPath": "spec.containers{app}", "reason": "Pulled", "reportingComponent": "kubelet",
		"source": "kubelet", "type": "Normal",
	}
	core := &corev1.Event{ObjectMeta: meta("web.1"), InvolvedObject: ref, Reason: "Pulled", ReportingController: "kubelet", Type: "Normal"}
	if got := strategyOf(t, "", "v1", "events").FieldSet(core); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("core/v1 fields = %v\nwant %v", got, want)
	}
	core.Source.Component = "scheduler"
	if got := strategyOf(t, "", "v1", "events").FieldSet(core); got["source"] != "scheduler" {
		t.Errorf("source = %q, want the source component", got["source"])
	}
	ev := &eventsv1.Event{ObjectMeta: meta("web.1"), Regarding: ref, Reason: "Pulled", ReportingController: "kubelet", Type: "Normal"}
	if got := strategyOf(t, "events.k8s.io", "v1", "events").FieldSet(ev); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("events.k8s.io fields = %v\nwant %v", got, want)
	}
}
