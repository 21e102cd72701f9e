package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func deploymentPrinter() Printer {
	status := appsv1.DeploymentStatus{}.SwaggerDoc()
	return Printer{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "Number of the pod with ready state"),
			column("Up-to-date", "string", status["updatedReplicas"]),
			column("Available", "string", status["availableReplicas"]),
			ageColumn(),
		}, templateColumns(appsv1.DeploymentSpec{}.SwaggerDoc()["selector"])...),
		Row: rowOf(func(d *appsv1.Deployment, now time.Time) ([]interface{}, error) {
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			// Deployments print their selector in selector syntax, not
			// FormatLabelSelector's, as upstream does.
			selector := "<invalid>"
			if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
				selector = s.String()
			}
			return []interface{}{
				d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, derefInt32(d.Spec.Replicas, 1)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), AgeSince(d.CreationTimestamp.Time, now),
				names, images, selector,
			}, nil
		}),
	}
}

// replicasColumns are the columns of ReplicaSets and ReplicationControllers, described from the
// API documentation of each kind's spec and status.
func replicasColumns(specDoc, statusDoc map[string]string) []metav1.TableColumnDefinition {
	return append([]metav1.TableColumnDefinition{
		nameColumn(),
		column("Desired", "integer", specDoc["replicas"]),
		column("Current", "integer", statusDoc["replicas"]),
		column("Ready", "integer", statusDoc["readyReplicas"]),
		ageColumn(),
	}, templateColumns(specDoc["selector"])...)
}

func replicaSetPrinter() Printer {
	return Printer{
		Columns: replicasColumns(appsv1.ReplicaSetSpec{}.SwaggerDoc(), appsv1.ReplicaSetStatus{}.SwaggerDoc()),
		Row: rowOf(func(rs *appsv1.ReplicaSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(rs.Spec.Template.Spec.Containers)
			return []interface{}{
				rs.Name, int64(derefInt32(rs.Spec.Replicas, 1)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				AgeSince(rs.CreationTimestamp.Time, now), names, images, selectorString(rs.Spec.Selector),
			}, nil
		}),
	}
}

func statefulSetPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "Number of the pod with ready state"),
			ageColumn(),
			wideColumn("Containers", "string", "Names of each container in the template."),
			wideColumn("Images", "string", "Images referenced by each container in the template."),
		},
		Row: rowOf(func(ss *appsv1.StatefulSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(ss.Spec.Template.Spec.Containers)
			return []interface{}{
				ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, derefInt32(ss.Spec.Replicas, 1)),
				AgeSince(ss.CreationTimestamp.Time, now), names, images,
			}, nil
		}),
	}
}

func daemonSetPrinter() Printer {
	status := appsv1.DaemonSetStatus{}.SwaggerDoc()
	return Printer{
		Columns: append([]metav1.TableColumnDefinition{
			nameColumn(),
			column("Desired", "integer", status["desiredNumberScheduled"]),
			column("Current", "integer", status["currentNumberScheduled"]),
			column("Ready", "integer", status["numberReady"]),
			column("Up-to-date", "integer", status["updatedNumberScheduled"]),
			column("Available", "integer", status["numberAvailable"]),
			column("Node Selector", "string", corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]),
			ageColumn(),
		}, templateColumns(appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"])...),
		Row: rowOf(func(ds *appsv1.DaemonSet, now time.Time) ([]interface{}, error) {
			s := ds.Status
			names, images := containerCells(ds.Spec.Template.Spec.Containers)
			return []interface{}{
				ds.Name, int64(s.DesiredNumberScheduled), int64(s.CurrentNumberScheduled), int64(s.NumberReady),
				int64(s.UpdatedNumberScheduled), int64(s.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				AgeSince(ds.CreationTimestamp.Time, now), names, images, selectorString(ds.Spec.Selector),
			}, nil
		}),
	}
}

func controllerRevisionPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Controller", "string", "Controller of the object"),
			column("Revision", "string", appsv1.ControllerRevision{}.SwaggerDoc()["revision"]),
			ageColumn(),
		},
		Row: rowOf(func(cr *appsv1.ControllerRevision, now time.Time) ([]interface{}, error) {
			controller := none
			if ref := metav1.GetControllerOf(cr); ref != nil {
				gv, err := schema.ParseGroupVersion(ref.APIVersion)
				if err != nil {
					return nil, fmt.Errorf("controller reference of %s: %w", cr.Name, err)
				}
				// "statefulset.apps/web", like kubectl's resource/name form.
				controller = ref.Name
				if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
					controller = strings.ToLower(gk.String()) + "/" + ref.Name
				}
			}
			return []interface{}{cr.Name, controller, cr.Revision, AgeSince(cr.CreationTimestamp.Time, now)}, nil
		}),
	}
}
