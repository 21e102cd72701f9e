package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// eventPrinter prints core/v1 and events.k8s.io/v1 events alike: both are
// views of the same stored object, and kubectl shows them with one layout.
// Unlike other kinds, NAME is a wide column at the end.
func eventPrinter() Printer {
	doc := corev1.Event{}.SwaggerDoc()
	ref := corev1.ObjectReference{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			column("Last Seen", "string", doc["lastTimestamp"]),
			column("Type", "string", doc["type"]),
			column("Reason", "string", doc["reason"]),
			column("Object", "string", doc["involvedObject"]),
			wideColumn("Subobject", "string", ref["fieldPath"]),
			wideColumn("Source", "string", doc["source"]),
			column("Message", "string", doc["message"]),
			wideColumn("First Seen", "string", doc["firstTimestamp"]),
			wideColumn("Count", "string", doc["count"]),
			{Name: "Name", Type: "string", Format: "name", Priority: 1, Description: objectMetaDoc["name"]},
		},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			var ev eventView
			switch e := obj.(type) {
			case *corev1.Event:
				ev = coreEventView(e)
			case *eventsv1.Event:
				ev = eventsEventView(e)
			default:
				return nil, fmt.Errorf("expected *v1.Event (core or events.k8s.io), got %T", obj)
			}
			return ev.cells(now), nil
		},
	}
}

// eventView holds the fields the event table needs, in core/v1 terms.
type eventView struct {
	name                string
	eventType, reason   string
	message             string
	involved            corev1.ObjectReference
	source              corev1.EventSource
	reportingController string
	reportingInstance   string
	firstTimestamp      time.Time
	lastTimestamp       time.Time
	eventTime           time.Time
	count               int32
	series              *corev1.EventSeries
}

func coreEventView(e *corev1.Event) eventView {
	return eventView{
		name:                e.Name,
		eventType:           e.Type,
		reason:              e.Reason,
		message:             e.Message,
		involved:            e.InvolvedObject,
		source:              e.Source,
		reportingController: e.ReportingController,
		reportingInstance:   e.ReportingInstance,
		firstTimestamp:      e.FirstTimestamp.Time,
		lastTimestamp:       e.LastTimestamp.Time,
		eventTime:           e.EventTime.Time,
		count:               e.Count,
		series:              e.Series,
	}
}

// eventsEventView maps an events.k8s.io/v1 event onto core/v1 field meanings,
// as the API server's conversion between the two does.
func eventsEventView(e *eventsv1.Event) eventView {
	v := eventView{
		name:                e.Name,
		eventType:           e.Type,
		reason:              e.Reason,
		message:             e.Note,
		involved:            e.Regarding,
		source:              e.DeprecatedSource,
		reportingController: e.ReportingController,
		reportingInstance:   e.ReportingInstance,
		firstTimestamp:      e.DeprecatedFirstTimestamp.Time,
		lastTimestamp:       e.DeprecatedLastTimestamp.Time,
		eventTime:           e.EventTime.Time,
		count:               e.DeprecatedCount,
	}
	if e.Series != nil {
		v.series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return v
}

func (ev eventView) cells(now time.Time) []interface{} {
	// Events from the new API carry eventTime instead of firstTimestamp, and
	// series instead of count and lastTimestamp.
	first := AgeSince(ev.firstTimestamp, now)
	if ev.firstTimestamp.IsZero() {
		first = AgeSince(ev.eventTime, now)
	}
	last := AgeSince(ev.lastTimestamp, now)
	if ev.lastTimestamp.IsZero() {
		last = first
	}
	count := ev.count
	if ev.series != nil {
		last = AgeSince(ev.series.LastObservedTime.Time, now)
		count = ev.series.Count
	} else if count == 0 {
		// Singleton events of the new API leave count unset.
		count = 1
	}

	target := strings.ToLower(ev.involved.Kind)
	if ev.involved.Name != "" {
		target += "/" + ev.involved.Name
	}
	return []interface{}{
		last, ev.eventType, ev.reason, target, ev.involved.FieldPath, ev.sourceString(),
		strings.TrimSpace(ev.message), first, int64(count), ev.name,
	}
}

// sourceString is "component, host", falling back to the reporting controller
// and instance that newer clients set instead.
func (ev eventView) sourceString() string {
	component := ev.source.Component
	if component == "" {
		component = ev.reportingController
	}
	host := ev.source.Host
	if host == "" {
		host = ev.reportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
