package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/store"
)

var priorityClassesGR = schema.GroupResource{Group: schedulingv1.GroupName, Resource: "priorityclasses"}

// admitPriority does what upstream's Priority admission does on create: a pod's priority and
// preemption policy come from the PriorityClass it names (or the global default class, or 0),
// a pod may not state other values itself, and only one PriorityClass may be the global default.
func (s *Server) admitPriority(ctx context.Context, gr schema.GroupResource, name string, obj runtime.Object) error {
	h := s.byGR[priorityClassesGR]
	if h == nil {
		return nil
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		if err := s.resolvePodPriority(ctx, h, o); err != nil {
			return apierrors.NewForbidden(gr, name, err)
		}
	case *schedulingv1.PriorityClass:
		if !o.GlobalDefault {
			return nil
		}
		if def, err := globalDefaultClass(ctx, h); err != nil {
			return err
		} else if def != nil && def.Name != o.Name {
			return apierrors.NewForbidden(gr, name, fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", def.Name))
		}
	}
	return nil
}

func (s *Server) resolvePodPriority(ctx context.Context, h *resourceHandler, pod *corev1.Pod) error {
	var value int32
	policy := corev1.PreemptLowerPriority
	if pod.Spec.PriorityClassName == "" {
		def, err := globalDefaultClass(ctx, h)
		if err != nil {
			return err
		}
		if def != nil {
			pod.Spec.PriorityClassName = def.Name
			value = def.Value
			if def.PreemptionPolicy != nil {
				policy = *def.PreemptionPolicy
			}
		}
	} else {
		obj, err := h.storage.GetCached(pod.Spec.PriorityClassName)
		if err != nil {
			// The cache may lag a class created a moment ago.
			obj, err = h.storage.Get(ctx, pod.Spec.PriorityClassName)
		}
		pc, ok := obj.(*schedulingv1.PriorityClass)
		if err != nil || !ok {
			if err == nil || apierrors.IsNotFound(err) {
				return fmt.Errorf("no PriorityClass with name %v was found", pod.Spec.PriorityClassName)
			}
			return err
		}
		value = pc.Value
		if pc.PreemptionPolicy != nil {
			policy = *pc.PreemptionPolicy
		}
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
		return fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value)
	}
	pod.Spec.Priority = &value
	if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
		return fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, policy)
	}
	pod.Spec.PreemptionPolicy = &policy
	return nil
}

// globalDefaultClass is the PriorityClass marked globalDefault (the lowest valued one should
// there be several, as upstream picks), or nil.
func globalDefaultClass(ctx context.Context, h *resourceHandler) (*schedulingv1.PriorityClass, error) {
	res, err := h.storage.List(ctx, store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for _, it := range res.Items {
		if pc, ok := it.Obj.(*schedulingv1.PriorityClass); ok && pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def, nil
}
