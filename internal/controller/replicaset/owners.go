package replicaset

import (
	"context"
	"maps"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// owners is what the controller needs of the kind it manages. ReplicaSets are used as they are;
// ReplicationControllers are seen through a ReplicaSet-shaped view (upstream runs the same
// controller for both the same way).
type owners interface {
	kind() schema.GroupVersionKind
	get(namespace, name string) (*appsv1.ReplicaSet, error)
	list(namespace string) ([]*appsv1.ReplicaSet, error)
	// getLive reads the owner from the API server, bypassing the cache.
	getLive(ctx context.Context, namespace, name string) (*appsv1.ReplicaSet, error)
	updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error
	// eventTarget is the object events about rs are recorded on.
	eventTarget(rs *appsv1.ReplicaSet) runtime.Object
}

type replicaSets struct {
	client kubernetes.Interface
	lister appslisters.ReplicaSetLister
}

func (replicaSets) kind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
}
func (o replicaSets) get(ns, name string) (*appsv1.ReplicaSet, error) {
	return o.lister.ReplicaSets(ns).Get(name)
}
func (o replicaSets) list(ns string) ([]*appsv1.ReplicaSet, error) {
	return o.lister.ReplicaSets(ns).List(labels.Everything())
}
func (o replicaSets) getLive(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	return o.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
}
func (o replicaSets) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error {
	_, err := o.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
	return err
}
func (replicaSets) eventTarget(rs *appsv1.ReplicaSet) runtime.Object { return rs }

type replicationControllers struct {
	client kubernetes.Interface
	lister corelisters.ReplicationControllerLister
}

func (replicationControllers) kind() schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("ReplicationController")
}
func (o replicationControllers) get(ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := o.lister.ReplicationControllers(ns).Get(name)
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}
func (o replicationControllers) list(ns string) ([]*appsv1.ReplicaSet, error) {
	rcs, err := o.lister.ReplicationControllers(ns).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := make([]*appsv1.ReplicaSet, len(rcs))
	for i, rc := range rcs {
		out[i] = rcToRS(rc)
	}
	return out, nil
}
func (o replicationControllers) getLive(ctx context.Context, ns, name string) (*appsv1.ReplicaSet, error) {
	rc, err := o.client.CoreV1().ReplicationControllers(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return rcToRS(rc), nil
}
func (o replicationControllers) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet) error {
	rc, err := o.lister.ReplicationControllers(rs.Namespace).Get(rs.Name)
	if err != nil {
		return err
	}
	cp := rc.DeepCopy()
	cp.ResourceVersion = rs.ResourceVersion
	cp.Status = corev1.ReplicationControllerStatus{
		Replicas:             rs.Status.Replicas,
		FullyLabeledReplicas: rs.Status.FullyLabeledReplicas,
		ReadyReplicas:        rs.Status.ReadyReplicas,
		AvailableReplicas:    rs.Status.AvailableReplicas,
		ObservedGeneration:   rs.Status.ObservedGeneration,
	}
	for _, c := range rs.Status.Conditions {
		cp.Status.Conditions = append(cp.Status.Conditions, corev1.ReplicationControllerCondition{
			Type: corev1.ReplicationControllerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	_, err = o.client.CoreV1().ReplicationControllers(rs.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	return err
}
func (o replicationControllers) eventTarget(rs *appsv1.ReplicaSet) runtime.Object {
	return &corev1.ReplicationController{ObjectMeta: *rs.ObjectMeta.DeepCopy()}
}

// rcToRS is the ReplicaSet view of a ReplicationController: its map selector becomes matchLabels
// (defaulting to the template's labels, as the API does).
func rcToRS(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{
		ObjectMeta: *rc.ObjectMeta.DeepCopy(),
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        rc.Spec.Replicas,
			MinReadySeconds: rc.Spec.MinReadySeconds,
		},
		Status: appsv1.ReplicaSetStatus{
			Replicas:             rc.Status.Replicas,
			FullyLabeledReplicas: rc.Status.FullyLabeledReplicas,
			ReadyReplicas:        rc.Status.ReadyReplicas,
			AvailableReplicas:    rc.Status.AvailableReplicas,
			ObservedGeneration:   rc.Status.ObservedGeneration,
		},
	}
	if rc.Spec.Template != nil {
		rs.Spec.Template = *rc.Spec.Template.DeepCopy()
	}
	sel := maps.Clone(rc.Spec.Selector)
	if len(sel) == 0 {
		sel = maps.Clone(rs.Spec.Template.Labels)
	}
	rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: sel}
	for _, c := range rc.Status.Conditions {
		rs.Status.Conditions = append(rs.Status.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
		})
	}
	return rs
}
