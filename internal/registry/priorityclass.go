package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream's limits on priority values and its two built-in classes.
const (
	// HighestUserDefinablePriority is the largest value a user's PriorityClass may have.
	HighestUserDefinablePriority = int32(1000000000)
	// SystemPriorityClassPrefix starts the names reserved for the built-in classes.
	SystemPriorityClassPrefix = "system-"
)

// SystemPriorityClasses are the classes every cluster has, as upstream creates them.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	policy := corev1.PreemptLowerPriority
	mk := func(name string, value int32, description string) *schedulingv1.PriorityClass {
		pc := &schedulingv1.PriorityClass{Value: value, Description: description, PreemptionPolicy: &policy}
		pc.Name = name
		return pc
	}
	return []*schedulingv1.PriorityClass{
		mk("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from their current node."),
		mk("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
	}
}

type priorityClassStrategy struct{ baseStrategy }

func (priorityClassStrategy) Default(obj runtime.Object) {
	pc, ok := obj.(*schedulingv1.PriorityClass)
	if !ok || pc.PreemptionPolicy != nil {
		return
	}
	policy := corev1.PreemptLowerPriority
	pc.PreemptionPolicy = &policy
}

func (priorityClassStrategy) Validate(obj runtime.Object) field.ErrorList {
	pc, ok := obj.(*schedulingv1.PriorityClass)
	if !ok {
		return nil
	}
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, SystemPriorityClassPrefix) {
		if err := knownSystemClass(pc); err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
	}
	if p := pc.PreemptionPolicy; p != nil && *p != corev1.PreemptLowerPriority && *p != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p, []string{string(corev1.PreemptLowerPriority), string(corev1.PreemptNever)}))
	}
	return errs
}

func (s priorityClassStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	pc, ok1 := obj.(*schedulingv1.PriorityClass)
	prev, ok2 := old.(*schedulingv1.PriorityClass)
	if !ok1 || !ok2 {
		return nil
	}
	errs := s.Validate(obj)
	if pc.Value != prev.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	if (pc.PreemptionPolicy == nil) != (prev.PreemptionPolicy == nil) ||
		(pc.PreemptionPolicy != nil && *pc.PreemptionPolicy != *prev.PreemptionPolicy) {
		errs = append(errs, field.Invalid(field.NewPath("preemptionPolicy"), pc.PreemptionPolicy, "field is immutable"))
	}
	return errs
}

// knownSystemClass accepts a system- class only as upstream defines it.
func knownSystemClass(pc *schedulingv1.PriorityClass) error {
	for _, sys := range SystemPriorityClasses() {
		if sys.Name != pc.Name {
			continue
		}
		if sys.Value != pc.Value {
			return fmt.Errorf("value of %v PriorityClass must be %v", sys.Name, sys.Value)
		}
		if pc.GlobalDefault {
			return fmt.Errorf("globalDefault of %v PriorityClass must be %v", sys.Name, false)
		}
		return nil
	}
	return fmt.Errorf("%v is not a known system priority class", pc.Name)
}
