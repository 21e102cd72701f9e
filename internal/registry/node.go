package registry

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// nodeStrategy keeps a node's status on create: agents register their node together with the
// status they observe (unlike other kinds, whose status starts empty).
type nodeStrategy struct{ baseStrategy }

func (nodeStrategy) Default(obj runtime.Object) {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	// Capacity not reserved for anything is allocatable.
	if node.Status.Allocatable == nil && node.Status.Capacity != nil {
		node.Status.Allocatable = node.Status.Capacity.DeepCopy()
	}
	// The API keeps podCIDR and podCIDRs in step.
	if node.Spec.PodCIDR != "" && len(node.Spec.PodCIDRs) == 0 {
		node.Spec.PodCIDRs = []string{node.Spec.PodCIDR}
	} else if len(node.Spec.PodCIDRs) > 0 {
		node.Spec.PodCIDR = node.Spec.PodCIDRs[0]
	}
	roundUpResourceList(node.Status.Capacity)
	roundUpResourceList(node.Status.Allocatable)
}

func (nodeStrategy) Validate(obj runtime.Object) field.ErrorList {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return nil
	}
	return validateNode(node)
}

func validateNode(node *corev1.Node) field.ErrorList {
	errs := validateTaints(node.Spec.Taints, field.NewPath("spec", "taints"))
	cidrsPath := field.NewPath("spec", "podCIDRs")
	families := map[bool]bool{}
	valid := true
	for i, cidr := range node.Spec.PodCIDRs {
		prefix, err := netip.ParsePrefix(cidr)
		if err != nil {
			errs = append(errs, field.Invalid(cidrsPath.Index(i), node.Spec.PodCIDRs, "must be valid CIDR"))
			valid = false
			continue
		}
		if slices.Contains(node.Spec.PodCIDRs[:i], cidr) {
			errs = append(errs, field.Duplicate(cidrsPath.Index(i), cidr))
		}
		families[prefix.Addr().Is4()] = true
	}
	if valid && (len(node.Spec.PodCIDRs) > 2 || (len(node.Spec.PodCIDRs) == 2 && len(families) != 2)) {
		errs = append(errs, field.Invalid(cidrsPath, node.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
	}
	for name, q := range node.Status.Capacity {
		errs = append(errs, validateResourceQuantity(name, q, field.NewPath("status", "capacity").Key(string(name)))...)
	}
	for name, q := range node.Status.Allocatable {
		errs = append(errs, validateResourceQuantity(name, q, field.NewPath("status", "allocatable").Key(string(name)))...)
	}
	return errs
}

// validateTaints checks taint keys, values and effects, and that each key/effect pair is unique.
func validateTaints(taints []corev1.Taint, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, t := range taints {
		p := fldPath.Index(i)
		errs = append(errs, validateLabelName(t.Key, p.Child("key"))...)
		errs = append(errs, messagesAt(p.Child("value"), t.Value, validation.IsValidLabelValue(t.Value))...)
		errs = append(errs, validateEnum(t.Effect, supportedTaintEffects, p.Child("effect"))...)
		key := fmt.Sprintf("%s/%s", t.Key, t.Effect)
		if seen[key] {
			dup := field.Duplicate(p, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
		}
		seen[key] = true
	}
	return errs
}

func (nodeStrategy) ValidateUpdate(obj, old runtime.Object) field.ErrorList {
	node, ok := obj.(*corev1.Node)
	oldNode, ok2 := old.(*corev1.Node)
	if !ok || !ok2 {
		return nil
	}
	errs := validateNode(node)
	// The pod CIDR and provider ID are assigned once, by the node IPAM controller and the agent.
	if len(oldNode.Spec.PodCIDRs) > 0 && !slices.Equal(oldNode.Spec.PodCIDRs, node.Spec.PodCIDRs) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	if oldNode.Spec.ProviderID != "" && oldNode.Spec.ProviderID != node.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	return errs
}

// FieldSet returns the fields nodes can be selected by.
func (nodeStrategy) FieldSet(obj runtime.Object) fields.Set {
	node, ok := obj.(*corev1.Node)
	if !ok {
		return nil
	}
	return fields.Set{"spec.unschedulable": fmt.Sprint(node.Spec.Unschedulable)}
}
