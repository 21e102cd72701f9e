package statefulset

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// defaultRevisionHistoryLimit is the API default, applied when the field reached us unset.
const defaultRevisionHistoryLimit = 10

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting statefulset %s: %w", key, err)
	}
	set := cached.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil
	}

	pods, err := c.claimPods(ctx, set, selector)
	if err != nil {
		return err
	}
	revisions, err := c.claimRevisions(ctx, set, selector)
	if err != nil {
		return err
	}
	current, update, collisionCount, err := c.revisions(ctx, set, revisions)
	if err != nil {
		return err
	}
	st, requeue, err := c.updateSet(ctx, set, current, update, pods)
	if err != nil {
		return err
	}
	st.CollisionCount = ptr.To(collisionCount)
	if err := c.writeStatus(ctx, set, st); err != nil {
		return err
	}
	if err := c.truncateHistory(ctx, set, pods, revisions, current, update); err != nil {
		return err
	}
	if requeue > 0 {
		c.queue.AddAfter(key, requeue)
	}
	return nil
}

func (c *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	mgr := c.refManager(set, selector, controllerutil.PodPatcher(c.client))
	mgr.Filter = func(o metav1.Object) bool { return isMemberOf(set, o) }
	return controllerutil.Claim(ctx, mgr, all)
}

func (c *Controller) claimRevisions(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	return controllerutil.ClaimRevisions(ctx, c.revLister, c.refManager(set, selector, controllerutil.ControllerRevisionPatcher(c.client)))
}

func (c *Controller) refManager(set *appsv1.StatefulSet, selector labels.Selector, patch controllerutil.Patcher) *controllerutil.RefManager {
	return &controllerutil.RefManager{Owner: set, OwnerGVK: controllerKind, Selector: selector, CanAdopt: c.recheck(set), Patch: patch}
}

func (c *Controller) recheck(set *appsv1.StatefulSet) func(context.Context) error {
	return controllerutil.RecheckOwner(set, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	})
}

// revisions returns the current and update revisions, creating the update revision for the
// present template if no equivalent one exists (or giving an older equivalent one, as after a
// rollback, the next revision number).
func (c *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisionCount int32, err error) {
	collisionCount = ptr.Deref(set.Status.CollisionCount, 0)
	data, err := controllerutil.TemplatePatch(&set.Spec.Template)
	if err != nil {
		return nil, nil, collisionCount, err
	}
	next := controllerutil.NextRevision(revs)
	want := controllerutil.NewRevision(set, controllerKind, set.Spec.Template.Labels, data, next, &collisionCount)

	var equal *appsv1.ControllerRevision
	for _, r := range revs {
		if controllerutil.RevisionDataEqual(r, want) {
			equal = r
		}
	}
	switch {
	case equal != nil && equal == revs[len(revs)-1]:
		update = equal
	case equal != nil:
		cp := equal.DeepCopy()
		cp.Revision = next
		if update, err = c.client.AppsV1().ControllerRevisions(set.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil {
			return nil, nil, collisionCount, fmt.Errorf("renumbering controllerrevision %s: %w", cp.Name, err)
		}
	default:
		if update, err = c.createRevision(ctx, set, data, next, &collisionCount); err != nil {
			return nil, nil, collisionCount, err
		}
	}
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision {
			current = r
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisionCount, nil
}

// createRevision creates the revision, stepping collisionCount when its name is taken by
// different data; an identical existing revision (not yet in our cache) is simply used.
func (c *Controller) createRevision(ctx context.Context, set *appsv1.StatefulSet, data []byte, number int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	for range 10 {
		rev := controllerutil.NewRevision(set, controllerKind, set.Spec.Template.Labels, data, number, collisionCount)
		created, err := c.client.AppsV1().ControllerRevisions(set.Namespace).Create(ctx, rev, metav1.CreateOptions{})
		if err == nil {
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating controllerrevision %s: %w", rev.Name, err)
		}
		live, gerr := c.client.AppsV1().ControllerRevisions(set.Namespace).Get(ctx, rev.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, fmt.Errorf("getting controllerrevision %s: %w", rev.Name, gerr)
		}
		if ref := metav1.GetControllerOf(live); ref != nil && ref.UID == set.UID && controllerutil.RevisionDataEqual(live, rev) {
			return live, nil
		}
		*collisionCount++
	}
	return nil, fmt.Errorf("no free controllerrevision name for statefulset %s/%s", set.Namespace, set.Name)
}

// updateSet does one step of the StatefulSet's rollout and returns the status it leaves behind
// and, when waiting on minReadySeconds, when to look again.
func (c *Controller) updateSet(ctx context.Context, set *appsv1.StatefulSet, currentRev, updateRev *appsv1.ControllerRevision, pods []*corev1.Pod) (appsv1.StatefulSetStatus, time.Duration, error) {
	now := c.now()
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    currentRev.Name,
		UpdateRevision:     updateRev.Name,
	}
	var requeue time.Duration
	for _, p := range pods {
		st.Replicas++
		if controllerutil.IsPodRunningAndReady(p) {
			st.ReadyReplicas++
			if controllerutil.IsPodAvailable(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			} else if d := controllerutil.UntilAvailable(p, set.Spec.MinReadySeconds, now); d > 0 && (requeue == 0 || d < requeue) {
				requeue = d
			}
		}
		if p.DeletionTimestamp == nil {
			if revisionOf(p) == currentRev.Name {
				st.CurrentReplicas++
			}
			if revisionOf(p) == updateRev.Name {
				st.UpdatedReplicas++
			}
		}
	}
	if set.DeletionTimestamp != nil {
		return st, requeue, nil
	}

	currentTemplate, err := templateFromRevision(currentRev)
	if err != nil {
		return st, requeue, err
	}
	start, n := startOrdinal(set), replicasOf(set)
	replicas := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	for _, p := range pods {
		o := ordinalOf(p)
		if o >= start && o < start+n {
			replicas[o-start] = p
		} else if o >= 0 {
			condemned = append(condemned, p)
		}
	}
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return ordinalOf(a) - ordinalOf(b) })
	monotonic := !isParallel(set)
	partition := partitionOf(set)

	// versioned returns the template and revision pod index i must be (re)created from.
	versioned := func(i int) (*corev1.PodTemplateSpec, string) {
		if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
			((partition == 0 && i < int(set.Status.CurrentReplicas)) || (partition > 0 && i < partition)) {
			return currentTemplate, currentRev.Name
		}
		return &set.Spec.Template, updateRev.Name
	}
	healthy := func(p *corev1.Pod) bool {
		return controllerutil.IsPodRunningAndReady(p) && controllerutil.IsPodAvailable(p, set.Spec.MinReadySeconds, now)
	}

	// Replace pods that finished; create missing ones; in OrderedReady wait for each to be healthy.
	for i, p := range replicas {
		if p != nil && controllerutil.IsPodTerminal(p) && p.DeletionTimestamp == nil {
			if err := c.removePod(ctx, set, p); err != nil {
				return st, requeue, err
			}
			if monotonic {
				return st, requeue, nil
			}
			continue
		}
		if p == nil {
			tmpl, rev := versioned(i)
			pod := newPod(set, tmpl, rev, start+i)
			created, err := c.createPod(ctx, set, pod, start+i)
			if err != nil {
				return st, requeue, err
			}
			if created {
				st.Replicas++
				if rev == currentRev.Name {
					st.CurrentReplicas++
				}
				if rev == updateRev.Name {
					st.UpdatedReplicas++
				}
			}
			if monotonic {
				return st, requeue, nil
			}
			continue
		}
		if p.DeletionTimestamp != nil {
			if monotonic {
				return st, requeue, nil // wait for graceful deletion to finish
			}
			continue
		}
		if monotonic && !healthy(p) {
			return st, requeue, nil
		}
		if !identityMatches(set, p) {
			if err := c.fixIdentity(ctx, set, p); err != nil {
				return st, requeue, err
			}
		}
		if err := c.createClaims(ctx, set, p, ordinalOf(p)); err != nil {
			return st, requeue, err
		}
	}

	// Remove pods beyond the replica count, highest ordinal first; in OrderedReady one at a time
	// and only while all others are healthy.
	if monotonic {
		for _, p := range replicas {
			if p == nil || !healthy(p) {
				return st, requeue, nil
			}
		}
	}
	for i := len(condemned) - 1; i >= 0; i-- {
		p := condemned[i]
		if p.DeletionTimestamp != nil {
			if monotonic {
				return st, requeue, nil
			}
			continue
		}
		if monotonic && !healthy(p) && i != firstUnhealthy(condemned, healthy) {
			return st, requeue, nil
		}
		if err := c.retainOrReleaseClaims(ctx, set, p); err != nil {
			return st, requeue, err
		}
		if err := c.removePod(ctx, set, p); err != nil {
			return st, requeue, err
		}
		if monotonic {
			return st, requeue, nil
		}
	}

	if isOnDelete(set) {
		return st, requeue, nil
	}
	// RollingUpdate: replace one pod at a time from the highest ordinal down to the partition.
	for i := len(replicas) - 1; i >= partition; i-- {
		p := replicas[i]
		if p == nil {
			return st, requeue, nil
		}
		if revisionOf(p) != updateRev.Name && p.DeletionTimestamp == nil {
			return st, requeue, c.removePod(ctx, set, p)
		}
		if !healthy(p) {
			return st, requeue, nil
		}
	}
	return st, requeue, nil
}

func firstUnhealthy(pods []*corev1.Pod, healthy func(*corev1.Pod) bool) int {
	for i, p := range pods {
		if !healthy(p) {
			return i
		}
	}
	return -1
}

// createPod creates the pod's claims, then the pod. It reports whether the pod was created by
// this call (false when it already existed and the cache had not caught up).
func (c *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) (bool, error) {
	if err := c.createClaims(ctx, set, pod, ordinal); err != nil {
		return false, err
	}
	_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return false, nil
	}
	if err != nil {
		c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return false, fmt.Errorf("creating pod %s: %w", pod.Name, err)
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return true, nil
}

// createClaims creates the PVCs of pod's ordinal that do not exist yet. Existing claims are kept
// as they are: their data outlives the pods.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) error {
	for i := range set.Spec.VolumeClaimTemplates {
		claim := newClaim(set, &set.Spec.VolumeClaimTemplates[i], ordinal)
		if _, err := c.pvcLister.PersistentVolumeClaims(set.Namespace).Get(claim.Name); err == nil {
			continue
		}
		_, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, claim, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %v", claim.Name, pod.Name, set.Name, err)
			return fmt.Errorf("creating claim %s: %w", claim.Name, err)
		}
		c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success", claim.Name, pod.Name, set.Name)
	}
	return nil
}

// retainOrReleaseClaims applies whenScaled=Delete before a condemned pod goes: its claims get the
// pod as owner so the garbage collector removes them once the pod is gone.
func (c *Controller) retainOrReleaseClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	p := set.Spec.PersistentVolumeClaimRetentionPolicy
	if p == nil || p.WhenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return nil
	}
	for i := range set.Spec.VolumeClaimTemplates {
		name := claimName(set, &set.Spec.VolumeClaimTemplates[i], ordinalOf(pod))
		claim, err := c.pvcLister.PersistentVolumeClaims(set.Namespace).Get(name)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(claim.OwnerReferences, func(r metav1.OwnerReference) bool { return r.UID == pod.UID }) {
			continue
		}
		refs := append(slices.Clone(claim.OwnerReferences), metav1.OwnerReference{
			APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID,
		})
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"ownerReferences": refs, "resourceVersion": claim.ResourceVersion,
		}})
		if err != nil {
			return err
		}
		if _, err := c.client.CoreV1().PersistentVolumeClaims(set.Namespace).Patch(ctx, name, controllerutil.MergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("handing claim %s to pod %s: %w", name, pod.Name, err)
		}
	}
	return nil
}

func (c *Controller) removePod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(set.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // already gone or replaced
	}
	if err != nil {
		c.recorder.Eventf(set, corev1.EventTypeWarning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", pod.Name, set.Name, err)
		return fmt.Errorf("deleting pod %s: %w", pod.Name, err)
	}
	c.recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", pod.Name, set.Name)
	return nil
}

func (c *Controller) fixIdentity(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	cp := pod.DeepCopy()
	if cp.Labels == nil {
		cp.Labels = map[string]string{}
	}
	setIdentity(set, cp, ordinalOf(cp))
	if _, err := c.client.CoreV1().Pods(set.Namespace).Update(ctx, cp, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating identity of pod %s: %w", pod.Name, err)
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, set *appsv1.StatefulSet, st appsv1.StatefulSetStatus) error {
	// A finished rolling update makes the update revision current.
	if !isOnDelete(set) && st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas &&
		st.Replicas == int32(replicasOf(set)) {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	st.Conditions = set.Status.Conditions
	if apiequality.Semantic.DeepEqual(set.Status, st) {
		return nil
	}
	cp := set.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	return nil
}

// truncateHistory deletes the oldest revisions no pod uses beyond revisionHistoryLimit.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	var dead []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			dead = append(dead, r)
		}
	}
	limit := defaultRevisionHistoryLimit
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	for i := 0; i < len(dead)-limit; i++ {
		err := c.client.AppsV1().ControllerRevisions(set.Namespace).Delete(ctx, dead[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting controllerrevision %s: %w", dead[i].Name, err)
		}
	}
	return nil
}
