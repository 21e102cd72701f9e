package deployment

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// podMap groups the Deployment's pods by the UID of the ReplicaSet controlling them.
type podMap map[types.UID][]*corev1.Pod

// sync reconciles one Deployment by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting deployment %s: %w", key, err)
	}
	d := cached.DeepCopy()

	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || selector.Empty() {
		c.recorder.Eventf(d, corev1.EventTypeWarning, "SelectorRequired", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, err := c.client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return ignoreNotFound(err)
		}
		return nil
	}

	rsList, err := c.claimReplicaSets(ctx, d, selector)
	if err != nil {
		return err
	}
	pods, err := c.podsByReplicaSet(d, selector, rsList)
	if err != nil {
		return err
	}

	if d.DeletionTimestamp != nil {
		return c.syncStatusOnly(ctx, d, rsList)
	}
	if d, err = c.checkPausedConditions(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return c.syncScale(ctx, d, rsList, pods)
	}
	if isScalingEvent(d, rsList) {
		return c.syncScale(ctx, d, rsList, pods)
	}
	if isRecreate(d) {
		return c.rolloutRecreate(ctx, d, rsList, pods)
	}
	return c.rolloutRolling(ctx, d, rsList, pods)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// claimReplicaSets returns the ReplicaSets the Deployment controls after adopting orphans that
// match its selector and releasing owned ones that stopped matching.
func (c *Controller) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, selector labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := c.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing replicasets: %w", err)
	}
	mgr := &controllerutil.RefManager{
		Owner:    d,
		OwnerGVK: controllerKind,
		Selector: selector,
		CanAdopt: controllerutil.RecheckOwner(d, func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		}),
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.AppsV1().ReplicaSets(ns).Patch(ctx, name, controllerutil.MergePatchType, patch, metav1.PatchOptions{})
			return err
		},
	}
	return controllerutil.Claim(ctx, mgr, all)
}

func (c *Controller) podsByReplicaSet(d *appsv1.Deployment, selector labels.Selector, rsList []*appsv1.ReplicaSet) (podMap, error) {
	pods, err := c.podLister.Pods(d.Namespace).List(selector)
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	m := podMap{}
	for _, rs := range rsList {
		m[rs.UID] = nil
	}
	for _, p := range pods {
		ref := metav1.GetControllerOf(p)
		if ref == nil {
			continue
		}
		if _, ok := m[ref.UID]; ok {
			m[ref.UID] = append(m[ref.UID], p)
		}
	}
	return m, nil
}

// findNewReplicaSet returns the oldest ReplicaSet whose template equals the Deployment's.
func findNewReplicaSet(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := append([]*appsv1.ReplicaSet(nil), rsList...)
	sortByCreation(sorted)
	for _, rs := range sorted {
		if equalIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// allReplicaSets splits rsList into the new ReplicaSet (created when create is set and missing)
// and the old ones, and brings revision annotations up to date. It may update d's status and
// returns the Deployment as last written.
func (c *Controller) allReplicaSets(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods podMap, create bool) (*appsv1.Deployment, *appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	existing := findNewReplicaSet(d, rsList)
	var old []*appsv1.ReplicaSet
	for _, rs := range rsList {
		if existing == nil || rs.UID != existing.UID {
			old = append(old, rs)
		}
	}
	d, newRS, err := c.newReplicaSet(ctx, d, existing, old, pods, create)
	if err != nil {
		return d, nil, nil, err
	}
	return d, newRS, old, nil
}

func (c *Controller) newReplicaSet(ctx context.Context, d *appsv1.Deployment, existing *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, pods podMap, create bool) (*appsv1.Deployment, *appsv1.ReplicaSet, error) {
	newRevision := maxRevision(old) + 1
	_, hasDeadline := progressDeadline(d)

	if existing != nil {
		rs := existing.DeepCopy()
		changed := setRSAnnotations(d, rs, newRevision, true)
		if changed || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			updated, err := c.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
			if err != nil {
				return d, nil, fmt.Errorf("updating replicaset %s: %w", rs.Name, err)
			}
			return d, updated, nil
		}
		needsUpdate := setDeploymentRevision(d, rs.Annotations[RevisionAnnotation])
		if hasDeadline && getCondition(&d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonFoundNewRS,
				fmt.Sprintf("Found new replica set %q", rs.Name), c.now()))
			needsUpdate = true
		}
		if needsUpdate {
			var err error
			if d, err = c.writeStatus(ctx, d); err != nil {
				return d, nil, err
			}
		}
		return d, rs, nil
	}
	if !create {
		return d, nil, nil
	}

	hash := controllerutil.HashObject(&d.Spec.Template, d.Status.CollisionCount)
	template := d.Spec.Template.DeepCopy()
	template.Labels = maps.Clone(template.Labels)
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	selector := d.Spec.Selector.DeepCopy()
	if selector.MatchLabels == nil {
		selector.MatchLabels = map[string]string{}
	}
	selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] = hash
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{controllerutil.NewControllerRef(d, controllerKind)},
			Labels:          template.Labels,
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        *template,
		},
	}
	size := replicas(d) // Recreate starts the new ReplicaSet at full size
	if !isRecreate(d) {
		size = c.newRSReplicas(d, append(append([]*appsv1.ReplicaSet{}, old...), rs), rs, pods)
	}
	rs.Spec.Replicas = ptr.To(size)
	setRSAnnotations(d, rs, newRevision, false)

	created, err := c.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	alreadyExisted := false
	switch {
	case apierrors.IsAlreadyExists(err):
		alreadyExisted = true
		live, gerr := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if gerr != nil {
			return d, nil, fmt.Errorf("getting existing replicaset %s: %w", rs.Name, gerr)
		}
		if ref := metav1.GetControllerOf(live); ref != nil && ref.UID == d.UID && equalIgnoreHash(&live.Spec.Template, &d.Spec.Template) {
			// Ours, just not in the cache yet.
			created, err = live, nil
			break
		}
		// A hash collision with a different template: bump collisionCount so the next hash differs.
		d.Status.CollisionCount = ptr.To(ptr.Deref(d.Status.CollisionCount, 0) + 1)
		if _, uerr := c.writeStatus(ctx, d); uerr != nil {
			return d, nil, uerr
		}
		return d, nil, fmt.Errorf("replicaset %s exists with a different template; collisionCount raised: %w", rs.Name, err)
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasDeadline {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonFailedRSCreate, msg, c.now()))
			_, _ = c.writeStatus(ctx, d)
		}
		c.recorder.Event(d, corev1.EventTypeWarning, reasonFailedRSCreate, msg)
		return d, nil, fmt.Errorf("creating replicaset %s: %w", rs.Name, err)
	}
	if !alreadyExisted && size > 0 {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", created.Name, size)
	}
	needsUpdate := setDeploymentRevision(d, strconv.FormatInt(newRevision, 10))
	if !alreadyExisted && hasDeadline {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSCreated,
			fmt.Sprintf("Created new replica set %q", created.Name), c.now()))
		needsUpdate = true
	}
	if needsUpdate {
		if d, err = c.writeStatus(ctx, d); err != nil {
			return d, nil, err
		}
	}
	return d, created, nil
}

// writeStatus writes d's status (and, like upstream, its revision annotation) through the status
// subresource and returns the stored object.
func (c *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	updated, err := c.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		return d, fmt.Errorf("updating status of deployment %s/%s: %w", d.Namespace, d.Name, err)
	}
	// An API server whose status subresource keeps all stored metadata drops the annotation; set
	// it on the object itself then (only when the revision changed, so this is rare).
	if want := d.Annotations[RevisionAnnotation]; want != "" && updated.Annotations[RevisionAnnotation] != want {
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RevisionAnnotation: want}}})
		if err != nil {
			return updated, err
		}
		patched, err := c.client.AppsV1().Deployments(d.Namespace).Patch(ctx, d.Name, controllerutil.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return updated, fmt.Errorf("setting revision annotation of deployment %s/%s: %w", d.Namespace, d.Name, err)
		}
		updated = patched
	}
	return updated, nil
}

// scaleReplicaSet sets rs's size (and its desired/max annotations) and records an event. It
// returns the updated ReplicaSet and whether its size changed.
func (c *Controller) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (*appsv1.ReplicaSet, bool, error) {
	oldSize := rsReplicas(rs)
	sizeChanged := oldSize != size
	if !sizeChanged && !replicasAnnotationsNeedUpdate(rs, replicas(d), replicas(d)+maxSurge(d)) {
		return rs, false, nil
	}
	cp := rs.DeepCopy()
	cp.Spec.Replicas = ptr.To(size)
	setReplicasAnnotations(cp, replicas(d), replicas(d)+maxSurge(d))
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return rs, false, fmt.Errorf("scaling replicaset %s: %w", rs.Name, err)
	}
	if sizeChanged {
		dir := "up"
		if size < oldSize {
			dir = "down"
		}
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", dir, rs.Name, oldSize, size)
	}
	return updated, sizeChanged, nil
}

// replaceRS swaps the entry of rs's UID in list for rs.
func replaceRS(list []*appsv1.ReplicaSet, rs *appsv1.ReplicaSet) {
	for i := range list {
		if list[i] != nil && list[i].UID == rs.UID {
			list[i] = rs
		}
	}
}
