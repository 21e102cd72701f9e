package deployment

import (
	"context"
	"fmt"
	"math"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// rolloutRolling moves pods from the old ReplicaSets to the new one, never exceeding
// replicas+maxSurge pods nor dropping below replicas-maxUnavailable available pods.
func (c *Controller) rolloutRolling(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods podMap) error {
	d, newRS, oldRSs, err := c.allReplicaSets(ctx, d, rsList, pods, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet{}, oldRSs...), newRS)

	scaledUp, err := c.reconcileNewReplicaSet(ctx, all, newRS, d, pods)
	if err != nil {
		return err
	}
	if scaledUp {
		return c.syncRolloutStatus(ctx, all, all[len(all)-1], d)
	}
	scaledDown, err := c.reconcileOldReplicaSets(ctx, all, d)
	if err != nil {
		return err
	}
	if scaledDown {
		return c.syncRolloutStatus(ctx, all, all[len(all)-1], d)
	}
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanup(ctx, d, all[:len(all)-1]); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, all[len(all)-1], d)
}

// activePodCount counts the pods of rs that are not finished and not being deleted, as cached.
func activePodCount(rs *appsv1.ReplicaSet, pods podMap) int32 {
	var n int32
	for _, p := range pods[rs.UID] {
		if controllerutil.IsPodActive(p) {
			n++
		}
	}
	return n
}

// newRSReplicas computes how far the new ReplicaSet may grow now. The pod count uses, per
// ReplicaSet, the larger of its spec and its live pods, so pods of a ReplicaSet that was scaled
// down but has not deleted them yet still count against maxSurge.
func (c *Controller) newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, pods podMap) int32 {
	want := replicas(d)
	if isRecreate(d) {
		return want
	}
	var current int32
	for _, rs := range all {
		current += max(rsReplicas(rs), activePodCount(rs, pods))
	}
	maxTotal := want + maxSurge(d)
	if current >= maxTotal {
		return rsReplicas(newRS)
	}
	up := min(maxTotal-current, want-rsReplicas(newRS))
	return rsReplicas(newRS) + max(up, 0)
}

func (c *Controller) reconcileNewReplicaSet(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment, pods podMap) (bool, error) {
	want := replicas(d)
	switch cur := rsReplicas(newRS); {
	case cur == want:
		return false, nil
	case cur > want:
		updated, scaled, err := c.scaleReplicaSet(ctx, newRS, want, d)
		replaceRS(all, updated)
		return scaled, err
	}
	size := c.newRSReplicas(d, all, newRS, pods)
	updated, scaled, err := c.scaleReplicaSet(ctx, newRS, size, d)
	replaceRS(all, updated)
	return scaled, err
}

// reconcileOldReplicaSets scales old ReplicaSets down as far as availability allows: first their
// unhealthy replicas, then healthy ones down to replicas-maxUnavailable available in total.
// all holds the old ReplicaSets followed by the new one.
func (c *Controller) reconcileOldReplicaSets(ctx context.Context, all []*appsv1.ReplicaSet, d *appsv1.Deployment) (bool, error) {
	newRS := all[len(all)-1]
	old := filterActive(all[:len(all)-1])
	if specSum(old) == 0 {
		return false, nil
	}
	minAvailable := replicas(d) - maxUnavailable(d)
	newUnavailable := rsReplicas(newRS) - availableEstimate(newRS)
	maxScaleDown := specSum(all) - minAvailable - newUnavailable
	if maxScaleDown <= 0 {
		return false, nil
	}
	sortByCreation(old)

	// Unhealthy replicas of old ReplicaSets go first: removing them costs no availability.
	var cleaned int32
	for _, rs := range old {
		if cleaned >= maxScaleDown {
			break
		}
		unhealthy := rsReplicas(rs) - availableEstimate(rs)
		if unhealthy <= 0 {
			continue
		}
		n := min(unhealthy, maxScaleDown-cleaned)
		updated, _, err := c.scaleReplicaSet(ctx, rs, rsReplicas(rs)-n, d)
		if err != nil {
			return cleaned > 0, err
		}
		replaceRS(all, updated)
		replaceRS(old, updated)
		cleaned += n
	}

	// Then healthy ones, keeping minAvailable.
	available := int32(0)
	for _, rs := range all {
		available += availableEstimate(rs)
	}
	var scaled int32
	if budget := available - minAvailable; budget > 0 {
		for _, rs := range old {
			if scaled >= budget {
				break
			}
			if rsReplicas(rs) == 0 {
				continue
			}
			n := min(rsReplicas(rs), budget-scaled)
			updated, _, err := c.scaleReplicaSet(ctx, rs, rsReplicas(rs)-n, d)
			if err != nil {
				return cleaned+scaled > 0, err
			}
			replaceRS(all, updated)
			scaled += n
		}
	}
	return cleaned+scaled > 0, nil
}

// rolloutRecreate scales every old ReplicaSet to zero, waits until none of their pods is left
// (terminating ones included), and only then creates and scales up the new ReplicaSet.
func (c *Controller) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods podMap) error {
	d, newRS, oldRSs, err := c.allReplicaSets(ctx, d, rsList, pods, false)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet{}, oldRSs...), newRS)
	current := func() *appsv1.ReplicaSet { return all[len(all)-1] }

	scaledDown := false
	for _, rs := range filterActive(oldRSs) {
		updated, scaled, err := c.scaleReplicaSet(ctx, rs, 0, d)
		if err != nil {
			return err
		}
		replaceRS(all, updated)
		scaledDown = scaledDown || scaled
	}
	if scaledDown || oldPodsRunning(newRS, oldRSs, pods) {
		return c.syncRolloutStatus(ctx, all, current(), d)
	}
	if newRS == nil {
		if d, newRS, _, err = c.allReplicaSets(ctx, d, rsList, pods, true); err != nil {
			return err
		}
		all[len(all)-1] = newRS
	}
	updated, _, err := c.scaleReplicaSet(ctx, newRS, replicas(d), d)
	if err != nil {
		return err
	}
	all[len(all)-1] = updated
	if deploymentComplete(d, &d.Status) {
		if err := c.cleanup(ctx, d, oldRSs); err != nil {
			return err
		}
	}
	return c.syncRolloutStatus(ctx, all, current(), d)
}

// oldPodsRunning reports whether any pod of an old ReplicaSet still exists in a non-final phase.
func oldPodsRunning(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet, pods podMap) bool {
	for _, rs := range oldRSs {
		if rs.Status.Replicas > 0 {
			return true
		}
	}
	for uid, list := range pods {
		if newRS != nil && uid == newRS.UID {
			continue
		}
		for _, p := range list {
			if !controllerutil.IsPodTerminal(p) {
				return true
			}
		}
	}
	return false
}

// isScalingEvent reports whether spec.replicas changed since the active ReplicaSets were last sized.
func isScalingEvent(d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) bool {
	for _, rs := range filterActive(rsList) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != replicas(d) {
			return true
		}
	}
	return false
}

// syncScale handles a paused Deployment or a change of spec.replicas: resize the ReplicaSets
// (proportionally during a rolling update) without rolling anything out.
func (c *Controller) syncScale(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, pods podMap) error {
	d, newRS, oldRSs, err := c.allReplicaSets(ctx, d, rsList, pods, false)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet{}, oldRSs...), newRS)
	if err := c.scale(ctx, d, all); err != nil {
		return err
	}
	if d.Spec.Paused {
		if err := c.cleanup(ctx, d, all[:len(all)-1]); err != nil {
			return err
		}
	}
	return c.syncStatus(ctx, all, all[len(all)-1], d)
}

// scale resizes the ReplicaSets in all (old ones first, the new one, possibly nil, last) to match
// spec.replicas.
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet) error {
	newRS := all[len(all)-1]
	oldRSs := all[:len(all)-1]
	if target := activeOrLatest(newRS, oldRSs); target != nil {
		if rsReplicas(target) == replicas(d) && !replicasAnnotationsNeedUpdate(target, replicas(d), replicas(d)+maxSurge(d)) {
			return nil
		}
		updated, _, err := c.scaleReplicaSet(ctx, target, replicas(d), d)
		replaceRS(all, updated)
		return err
	}
	if isSaturated(d, newRS) {
		for _, rs := range filterActive(oldRSs) {
			updated, _, err := c.scaleReplicaSet(ctx, rs, 0, d)
			if err != nil {
				return err
			}
			replaceRS(all, updated)
		}
		return nil
	}
	if isRecreate(d) {
		return nil
	}
	// Several active ReplicaSets mid-rollout: spread the change proportionally to their sizes.
	active := filterActive(all)
	allowed := int32(0)
	if replicas(d) > 0 {
		allowed = replicas(d) + maxSurge(d)
	}
	toAdd := allowed - specSum(active)
	slices.SortStableFunc(active, func(a, b *appsv1.ReplicaSet) int {
		if rsReplicas(a) != rsReplicas(b) {
			return int(rsReplicas(b) - rsReplicas(a)) // larger first
		}
		if toAdd > 0 {
			return b.CreationTimestamp.Compare(a.CreationTimestamp.Time) // newer first when growing
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	sizes := make([]int32, len(active))
	added := int32(0)
	for i, rs := range active {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	for i, rs := range active {
		if i == 0 && toAdd != 0 {
			sizes[0] = max(sizes[0]+toAdd-added, 0)
		}
		updated, _, err := c.scaleReplicaSet(ctx, rs, sizes[i], d)
		if err != nil {
			return err
		}
		replaceRS(all, updated)
	}
	return nil
}

// activeOrLatest returns the only active ReplicaSet, or the newest one when none is active, or
// nil when several are active.
func activeOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	all := slices.Clone(oldRSs)
	if newRS != nil {
		all = append(all, newRS)
	}
	active := filterActive(all)
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		sorted := slices.Clone(oldRSs)
		sortByCreation(sorted)
		return sorted[len(sorted)-1]
	case 1:
		return active[0]
	}
	return nil
}

func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, DesiredReplicasAnnotation)
	return ok && rsReplicas(rs) == replicas(d) && desired == replicas(d) && rs.Status.AvailableReplicas == replicas(d)
}

// proportion is rs's share of toAdd replicas, scaled by its size against the size it was last
// sized for (max-replicas annotation), bounded by what is left to distribute.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	var fraction int32
	if replicas(d) == 0 {
		fraction = -rsReplicas(rs)
	} else {
		target := replicas(d) + maxSurge(d)
		annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
		if !ok || annotated == 0 {
			annotated = d.Status.Replicas
		}
		if annotated == 0 {
			return 0
		}
		fraction = int32(math.Round(float64(rsReplicas(rs))*float64(target)/float64(annotated))) - rsReplicas(rs)
	}
	left := toAdd - added
	if toAdd > 0 {
		return min(fraction, left)
	}
	return max(fraction, left)
}

// cleanup deletes the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit.
func (c *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) error {
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - revisionHistoryLimit(d)
	if diff <= 0 {
		return nil
	}
	slices.SortStableFunc(alive, func(a, b *appsv1.ReplicaSet) int {
		ra, rb := revisionOf(a), revisionOf(b)
		if ra != rb {
			if ra < rb {
				return -1
			}
			return 1
		}
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || rsReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		err := c.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &rs.UID},
		})
		if err != nil && ignoreNotFound(err) != nil {
			return fmt.Errorf("deleting old replicaset %s: %w", rs.Name, err)
		}
	}
	return nil
}

// checkPausedConditions records pausing and resuming in the Progressing condition, so the progress
// deadline does not count paused time.
func (c *Controller) checkPausedConditions(ctx context.Context, d *appsv1.Deployment) (*appsv1.Deployment, error) {
	if _, ok := progressDeadline(d); !ok {
		return d, nil
	}
	cond := getCondition(&d.Status, appsv1.DeploymentProgressing)
	pausedCond := cond != nil && cond.Reason == reasonPaused
	switch {
	case d.Spec.Paused && !pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonPaused, "Deployment is paused", c.now()))
	case !d.Spec.Paused && pausedCond:
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, reasonResumed, "Deployment is resumed", c.now()))
	default:
		return d, nil
	}
	return c.writeStatus(ctx, d)
}
