package deployment

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// calculateStatus derives the Deployment's status from its ReplicaSets (newRS may be nil).
func calculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, now time.Time) appsv1.DeploymentStatus {
	var st appsv1.DeploymentStatus
	var specTotal int32
	for _, rs := range all {
		if rs == nil {
			continue
		}
		st.Replicas += rs.Status.Replicas
		st.ReadyReplicas += rs.Status.ReadyReplicas
		st.AvailableReplicas += rs.Status.AvailableReplicas
		specTotal += rsReplicas(rs)
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.Status.Replicas
	}
	st.UnavailableReplicas = max(specTotal-st.AvailableReplicas, 0)
	st.ObservedGeneration = d.Generation
	st.CollisionCount = d.Status.CollisionCount
	st.Conditions = append([]appsv1.DeploymentCondition(nil), d.Status.Conditions...)

	if st.AvailableReplicas >= replicas(d)-maxUnavailable(d) {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionTrue, reasonMinimumAvailable, "Deployment has minimum availability.", now))
	} else {
		setCondition(&st, newCondition(appsv1.DeploymentAvailable, corev1.ConditionFalse, reasonMinimumUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

// deploymentComplete: every replica updated and available, and the spec observed.
func deploymentComplete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	return st.UpdatedReplicas == replicas(d) && st.Replicas == replicas(d) &&
		st.AvailableReplicas == replicas(d) && st.ObservedGeneration >= d.Generation
}

// deploymentProgressing: the new status moved the rollout forward compared to d's current one.
func deploymentProgressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas ||
		st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas ||
		st.AvailableReplicas > old.AvailableReplicas
}

// deploymentTimedOut: no progress recorded for longer than the progress deadline.
func deploymentTimedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	deadline, ok := progressDeadline(d)
	if !ok {
		return false
	}
	cond := getCondition(st, appsv1.DeploymentProgressing)
	if cond == nil {
		return false
	}
	switch cond.Reason {
	case reasonNewRSAvailable:
		return false
	case reasonTimedOut:
		return true
	}
	return cond.LastUpdateTime.Add(deadline).Before(now)
}

// syncStatus writes the plain status (no progress bookkeeping), as for paused or scaling syncs.
func (c *Controller) syncStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	st := calculateStatus(d, all, newRS, c.now())
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	d.Status = st
	_, err := c.writeStatus(ctx, d)
	return ignoreNotFound(err)
}

// syncStatusOnly refreshes status of a Deployment being deleted.
func (c *Controller) syncStatusOnly(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet) error {
	newRS := findNewReplicaSet(d, rsList)
	var all []*appsv1.ReplicaSet
	for _, rs := range rsList {
		if newRS == nil || rs.UID != newRS.UID {
			all = append(all, rs)
		}
	}
	all = append(all, newRS)
	return c.syncStatus(ctx, all, newRS, d)
}

// syncRolloutStatus writes status including the Progressing condition, and arranges to look at
// the Deployment again when its progress deadline would expire.
func (c *Controller) syncRolloutStatus(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, d *appsv1.Deployment) error {
	now := c.now()
	st := calculateStatus(d, all, newRS, now)
	_, hasDeadline := progressDeadline(d)
	if !hasDeadline {
		removeCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := getCondition(&st, appsv1.DeploymentProgressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == reasonNewRSAvailable
	if hasDeadline && !complete {
		switch {
		case deploymentComplete(d, &st):
			msg := "Deployment has successfully progressed."
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has successfully progressed.", newRS.Name)
			}
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonNewRSAvailable, msg, now))
		case deploymentProgressing(d, &st):
			msg := "Deployment is progressing."
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", newRS.Name)
			}
			cond := newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, reasonRSUpdated, msg, now)
			// Progress refreshes lastUpdateTime (the deadline clock) but not the transition time.
			if cur != nil && cur.Status == corev1.ConditionTrue {
				cond.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(&st, appsv1.DeploymentProgressing)
			st.Conditions = append(st.Conditions, cond)
		case deploymentTimedOut(d, &st, now):
			msg := "Deployment has timed out progressing."
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q has timed out progressing.", newRS.Name)
			}
			setCondition(&st, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, reasonTimedOut, msg, now))
		}
	}
	if apiequality.Semantic.DeepEqual(d.Status, st) {
		c.requeueStuck(d, &st, now)
		return nil
	}
	d.Status = st
	_, err := c.writeStatus(ctx, d)
	return ignoreNotFound(err)
}

// requeueStuck schedules a sync for when the progress deadline of an unfinished rollout expires.
func (c *Controller) requeueStuck(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) {
	deadline, ok := progressDeadline(d)
	cond := getCondition(st, appsv1.DeploymentProgressing)
	if !ok || cond == nil || deploymentComplete(d, st) || cond.Reason == reasonTimedOut ||
		cond.Reason == reasonNewRSAvailable || cond.Reason == reasonPaused {
		return
	}
	key := d.Namespace + "/" + d.Name
	after := cond.LastUpdateTime.Add(deadline).Sub(now)
	c.queue.AddAfter(key, max(after, 0)+time.Second)
}
