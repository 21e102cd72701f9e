package printers

import (
	"fmt"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// hpaPrinter prints autoscaling/v2 and autoscaling/v1 HorizontalPodAutoscalers.
func hpaPrinter() Printer {
	spec := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Reference", "string", spec["scaleTargetRef"]),
			column("Targets", "string", spec["metrics"]),
			column("MinPods", "string", spec["minReplicas"]),
			column("MaxPods", "string", spec["maxReplicas"]),
			column("Replicas", "string", autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()["currentReplicas"]),
			ageColumn(),
		},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			var (
				meta            metav1.ObjectMeta
				kind, name      string
				targets         string
				minReplicas     *int32
				maxReplicas     int32
				currentReplicas int32
			)
			switch h := obj.(type) {
			case *autoscalingv2.HorizontalPodAutoscaler:
				meta, kind, name = h.ObjectMeta, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name
				targets = hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics)
				minReplicas, maxReplicas, currentReplicas = h.Spec.MinReplicas, h.Spec.MaxReplicas, h.Status.CurrentReplicas
			case *autoscalingv1.HorizontalPodAutoscaler:
				meta, kind, name = h.ObjectMeta, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name
				targets = hpaV1Targets(h)
				minReplicas, maxReplicas, currentReplicas = h.Spec.MinReplicas, h.Spec.MaxReplicas, h.Status.CurrentReplicas
			default:
				return nil, fmt.Errorf("expected an autoscaling/v2 or v1 HorizontalPodAutoscaler, got %T", obj)
			}
			minPods := unset
			if minReplicas != nil {
				minPods = fmt.Sprintf("%d", *minReplicas)
			}
			return []interface{}{
				meta.Name, kind + "/" + name, targets, minPods, int64(maxReplicas), int64(currentReplicas),
				AgeSince(meta.CreationTimestamp.Time, now),
			}, nil
		},
	}
}

// hpaV1Targets formats the CPU utilization target, the only metric autoscaling/v1 has.
func hpaV1Targets(h *autoscalingv1.HorizontalPodAutoscaler) string {
	if h.Spec.TargetCPUUtilizationPercentage == nil {
		return none
	}
	current := unknown
	if c := h.Status.CurrentCPUUtilizationPercentage; c != nil {
		current = fmt.Sprintf("%d%%", *c)
	}
	return fmt.Sprintf("cpu: %s/%d%%", current, *h.Spec.TargetCPUUtilizationPercentage)
}

// hpaTargets shows "current/target" for the first two metrics, e.g.
// "cpu: 40%/80%, memory: <unknown>/1Gi + 1 more...". statuses[i] is the
// current value of specs[i].
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return none
	}
	const limit = 2
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var status *autoscalingv2.MetricStatus
		if i < len(statuses) {
			status = &statuses[i]
		}
		list = append(list, hpaMetric(spec, status))
	}
	if len(list) > limit {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:limit], ", "), len(list)-limit)
	}
	return strings.Join(list, ", ")
}

func hpaMetric(spec autoscalingv2.MetricSpec, status *autoscalingv2.MetricStatus) string {
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			break
		}
		var current *autoscalingv2.MetricValueStatus
		if status != nil && status.External != nil {
			current = &status.External.Current
		}
		return valueOrAverage(spec.External.Target, current)
	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			break
		}
		var current *autoscalingv2.MetricValueStatus
		if status != nil && status.Object != nil {
			current = &status.Object.Current
		}
		return valueOrAverage(spec.Object.Target, current)
	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			break
		}
		cur := unknown
		if status != nil && status.Pods != nil && status.Pods.Current.AverageValue != nil {
			cur = status.Pods.Current.AverageValue.String()
		}
		return cur + "/" + quantityString(spec.Pods.Target.AverageValue)
	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			break
		}
		var current *autoscalingv2.MetricValueStatus
		if status != nil && status.Resource != nil {
			current = &status.Resource.Current
		}
		return string(spec.Resource.Name) + ": " + utilizationOrAverage(spec.Resource.Target, current)
	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			break
		}
		var current *autoscalingv2.MetricValueStatus
		if status != nil && status.ContainerResource != nil {
			current = &status.ContainerResource.Current
		}
		return string(spec.ContainerResource.Name) + ": " + utilizationOrAverage(spec.ContainerResource.Target, current)
	}
	return "<unknown type>"
}

// valueOrAverage formats object and external metrics: "cur/target (avg)" for
// an average value target, "cur/target" for a plain value target.
func valueOrAverage(target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
	if target.AverageValue != nil {
		cur := unknown
		if current != nil && current.AverageValue != nil {
			cur = current.AverageValue.String()
		}
		return fmt.Sprintf("%s/%s (avg)", cur, target.AverageValue.String())
	}
	cur := unknown
	if current != nil && current.Value != nil {
		cur = current.Value.String()
	}
	return cur + "/" + quantityString(target.Value)
}

// utilizationOrAverage formats resource metrics: an average value, or a
// utilization percentage ("<auto>" when the target leaves it to the default).
func utilizationOrAverage(target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
	if target.AverageValue != nil {
		cur := unknown
		if current != nil && current.AverageValue != nil {
			cur = current.AverageValue.String()
		}
		return cur + "/" + target.AverageValue.String()
	}
	cur := unknown
	if current != nil && current.AverageUtilization != nil {
		cur = fmt.Sprintf("%d%%", *current.AverageUtilization)
	}
	goal := "<auto>"
	if target.AverageUtilization != nil {
		goal = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return cur + "/" + goal
}

func quantityString(q *resource.Quantity) string {
	if q == nil {
		return unknown
	}
	return q.String()
}
