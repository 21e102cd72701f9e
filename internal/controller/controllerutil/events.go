package controllerutil

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// NewEventRecorder returns a broadcaster and a recorder that reports as component (e.g.
// "deployment-controller", upstream's source names). Nothing is sent until StartEvents.
func NewEventRecorder(component string) (record.EventBroadcaster, record.EventRecorder) {
	b := record.NewBroadcaster()
	return b, b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

// StartEvents sends the broadcaster's events to core/v1 Events through client until ctx is done.
func StartEvents(ctx context.Context, b record.EventBroadcaster, client kubernetes.Interface) {
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		b.Shutdown()
	}()
}
