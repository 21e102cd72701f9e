// Package printers converts API objects to the metav1.Table that `kubectl get`
// asks for (Accept: application/json;as=Table;v=v1;g=meta.k8s.io).
//
// The columns and cell values follow upstream Kubernetes' server-side printers so
// kubectl output looks the same as against a stock API server. As upstream does on
// the server, every row carries all cells, including the Priority 1 ("wide")
// ones; kubectl drops the wide columns itself unless -o wide is given.
package printers

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes/scheme"
)

// Printer converts objects of one kind to table rows.
type Printer struct {
	Columns []metav1.TableColumnDefinition
	// Row returns the cells of one object, aligned with Columns. now is passed for AGE computations.
	Row func(obj runtime.Object, now time.Time) ([]interface{}, error)
}

// Values accepted for includeObject, as in metav1.TableOptions.
const (
	IncludeNone     = string(metav1.IncludeNone)
	IncludeMetadata = string(metav1.IncludeMetadata)
	IncludeObject   = string(metav1.IncludeObject)
)

// For returns the printer for a built-in kind; the default printer (Name, Age) when the kind has none.
func For(gk schema.GroupKind) Printer {
	if build, ok := builtinPrinters()[gk]; ok {
		return build()
	}
	return Default()
}

// builtinPrinters maps each kind with its own columns to the function that builds
// its printer. It is rebuilt on every call so no package state is shared.
func builtinPrinters() map[schema.GroupKind]func() Printer {
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	g := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	return map[schema.GroupKind]func() Printer{
		core("Pod"):                   podPrinter,
		core("PodTemplate"):           podTemplatePrinter,
		core("Service"):               servicePrinter,
		core("Endpoints"):             endpointsPrinter,
		core("Node"):                  nodePrinter,
		core("Namespace"):             namespacePrinter,
		core("ConfigMap"):             configMapPrinter,
		core("Secret"):                secretPrinter,
		core("ServiceAccount"):        serviceAccountPrinter,
		core("Event"):                 eventPrinter,
		core("PersistentVolume"):      persistentVolumePrinter,
		core("PersistentVolumeClaim"): persistentVolumeClaimPrinter,
		core("ReplicationController"): replicationControllerPrinter,
		core("ResourceQuota"):         resourceQuotaPrinter,
		core("LimitRange"):            createdAtPrinter,
		core("ComponentStatus"):       componentStatusPrinter,

		g("events.k8s.io", "Event"): eventPrinter,

		g("apps", "Deployment"):         deploymentPrinter,
		g("apps", "ReplicaSet"):         replicaSetPrinter,
		g("apps", "StatefulSet"):        statefulSetPrinter,
		g("apps", "DaemonSet"):          daemonSetPrinter,
		g("apps", "ControllerRevision"): controllerRevisionPrinter,

		g("batch", "Job"):     jobPrinter,
		g("batch", "CronJob"): cronJobPrinter,

		g("autoscaling", "HorizontalPodAutoscaler"): hpaPrinter,
		g("policy", "PodDisruptionBudget"):          podDisruptionBudgetPrinter,

		g("networking.k8s.io", "Ingress"):       ingressPrinter,
		g("networking.k8s.io", "IngressClass"):  ingressClassPrinter,
		g("networking.k8s.io", "NetworkPolicy"): networkPolicyPrinter,
		g("discovery.k8s.io", "EndpointSlice"):  endpointSlicePrinter,

		g("storage.k8s.io", "StorageClass"):     storageClassPrinter,
		g("coordination.k8s.io", "Lease"):       leasePrinter,
		g("scheduling.k8s.io", "PriorityClass"): priorityClassPrinter,

		g("rbac.authorization.k8s.io", "Role"):               createdAtPrinter,
		g("rbac.authorization.k8s.io", "ClusterRole"):        createdAtPrinter,
		g("rbac.authorization.k8s.io", "RoleBinding"):        roleBindingPrinter,
		g("rbac.authorization.k8s.io", "ClusterRoleBinding"): roleBindingPrinter,

		g("admissionregistration.k8s.io", "MutatingWebhookConfiguration"):   webhookConfigurationPrinter,
		g("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): webhookConfigurationPrinter,
	}
}

// Default is the NAME/AGE printer used for kinds without their own (works on any metav1.Object).
func Default() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{nameColumn(), ageColumn()},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, fmt.Errorf("default printer: %w", err)
			}
			return []interface{}{m.GetName(), AgeSince(m.GetCreationTimestamp().Time, now)}, nil
		},
	}
}

// createdAtPrinter is upstream's default table convertor, which built-in kinds
// without a printer of their own (Role, ClusterRole, LimitRange) use: NAME and
// CREATED AT as an RFC 3339 UTC timestamp.
func createdAtPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Created At", Type: "date", Description: objectMetaDoc["creationTimestamp"]},
		},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, fmt.Errorf("created-at printer: %w", err)
			}
			return []interface{}{m.GetName(), m.GetCreationTimestamp().UTC().Format(time.RFC3339)}, nil
		},
	}
}

// ToTable builds a Table of objs with p. includeObject is "None", "Metadata" (default, row.Object is a
// PartialObjectMetadata with apiVersion meta.k8s.io/v1 kind PartialObjectMetadata) or "Object" (the full object).
//
// The caller sets the Table's ListMeta (resourceVersion, continue) itself: it
// knows them from the list, ToTable does not.
func ToTable(p Printer, objs []runtime.Object, includeObject string, now time.Time) (*metav1.Table, error) {
	switch includeObject {
	case "", IncludeMetadata, IncludeNone, IncludeObject:
	default:
		return nil, fmt.Errorf("includeObject must be one of %s, %s or %s, not %q", IncludeObject, IncludeMetadata, IncludeNone, includeObject)
	}
	table := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{APIVersion: metav1.SchemeGroupVersion.String(), Kind: "Table"},
		ColumnDefinitions: p.Columns,
		// An empty list still encodes as "rows": [] like upstream, not null.
		Rows: make([]metav1.TableRow, 0, len(objs)),
	}
	for _, obj := range objs {
		cells, err := p.Row(obj, now)
		if err != nil {
			return nil, fmt.Errorf("printing %s: %w", describe(obj), err)
		}
		if len(cells) != len(p.Columns) {
			return nil, fmt.Errorf("printing %s: %d cells for %d columns", describe(obj), len(cells), len(p.Columns))
		}
		if err := normalizeCells(cells); err != nil {
			return nil, fmt.Errorf("printing %s: %w", describe(obj), err)
		}
		row := metav1.TableRow{Cells: cells}
		switch includeObject {
		case IncludeNone:
		case IncludeObject:
			row.Object = runtime.RawExtension{Object: withKind(obj)}
		default:
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, fmt.Errorf("printing %s: %w", describe(obj), err)
			}
			partial := meta.AsPartialObjectMetadata(m)
			partial.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("PartialObjectMetadata"))
			row.Object = runtime.RawExtension{Object: partial}
		}
		table.Rows = append(table.Rows, row)
	}
	return table, nil
}

// normalizeCells turns the integer types printers may produce into int64:
// metav1.Table's DeepCopy panics on any cell that is not a JSON value
// (string, int64, float64, bool, nil, ...).
func normalizeCells(cells []interface{}) error {
	for i, c := range cells {
		switch v := c.(type) {
		case string, int64, float64, bool, nil:
		case int:
			cells[i] = int64(v)
		case int32:
			cells[i] = int64(v)
		case float32:
			cells[i] = float64(v)
		default:
			return fmt.Errorf("cell %d has unsupported type %T", i, c)
		}
	}
	return nil
}

// withKind returns obj with apiVersion and kind set, so the embedded object in a
// row encodes with its type even when storage handed it over without TypeMeta.
// obj itself is left untouched: it may be shared with a cache.
func withKind(obj runtime.Object) runtime.Object {
	if !obj.GetObjectKind().GroupVersionKind().Empty() {
		return obj
	}
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		// Not a built-in type: it is still worth embedding without its kind.
		return obj
	}
	out := obj.DeepCopyObject()
	out.GetObjectKind().SetGroupVersionKind(gvks[0])
	return out
}

// describe names obj for error messages.
func describe(obj runtime.Object) string {
	if obj == nil {
		return "<nil object>"
	}
	if m, err := meta.Accessor(obj); err == nil {
		if ns := m.GetNamespace(); ns != "" {
			return fmt.Sprintf("%T %s/%s", obj, ns, m.GetName())
		}
		return fmt.Sprintf("%T %s", obj, m.GetName())
	}
	return fmt.Sprintf("%T", obj)
}

// Age formats a duration like kubectl (e.g. "5s", "3m20s", "2d3h"); negative
// durations beyond clock skew read "<invalid>".
func Age(d time.Duration) string {
	return duration.HumanDuration(d)
}

// AgeSince is the AGE cell of a timestamp: the time from t to now formatted by
// Age, or "<unknown>" when t is unset.
func AgeSince(t time.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return Age(now.Sub(t))
}
