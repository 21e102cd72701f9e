package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

func newNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1"},
		Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: corev1.NodeStatus{
			Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
}

func TestNodeCreateKeepsStatus(t *testing.T) {
	s := strategyOf(t, "", "v1", "nodes")
	node := newNode()
	if errs := create(s, node); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if len(node.Status.Conditions) != 1 || !apiequality.Semantic.DeepEqual(node.Status.Allocatable, node.Status.Capacity) {
		t.Errorf("status = %+v", node.Status)
	}
	if len(node.Spec.PodCIDRs) != 1 || node.Spec.PodCIDRs[0] != "10.244.1.0/24" {
		t.Errorf("podCIDRs = %v", node.Spec.PodCIDRs)
	}
}

func TestNodeValidation(t *testing.T) {
	s := strategyOf(t, "", "v1", "nodes")
	node := newNode()
	node.Spec.Taints = []corev1.Taint{
		{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		{Key: "dedicated", Value: "other", Effect: corev1.TaintEffectNoSchedule},
		{Key: "bad key!", Effect: "Never"},
	}
	node.Spec.PodCIDRs = []string{"10.244.1.0/24", "not-a-cidr"}
	checkErrors(t, create(s, node), "Duplicate spec.taints[1]", "Invalid spec.taints[2].key", "NotSupported spec.taints[2].effect",
		"Invalid spec.podCIDRs[1]")

	old := newNode()
	create(s, old)
	cordoned := old.DeepCopy()
	cordoned.Spec.Unschedulable = true
	checkErrors(t, update(s, cordoned, old))
	moved := old.DeepCopy()
	moved.Spec.PodCIDR, moved.Spec.PodCIDRs = "10.244.2.0/24", nil
	checkErrors(t, update(s, moved, old), "Forbidden spec.podCIDRs")

	if got := s.FieldSet(cordoned); !apiequality.Semantic.DeepEqual(got, fields.Set{"spec.unschedulable": "true"}) {
		t.Errorf("fields = %v", got)
	}
}
