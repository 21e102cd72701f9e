package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// sync reconciles one ReplicaSet by key: claim pods, create or delete to reach spec.replicas (unless
// earlier creations/deletions are still unobserved), then write status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.owners.get(ns, name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting replicaset %s: %w", key, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil || selector.Empty() {
		// Invalid selectors are rejected by validation; never act on "select everything".
		return nil
	}
	needsSync := c.expectations.Satisfied(key)

	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods for %s: %w", key, err)
	}
	active := make([]*corev1.Pod, 0, len(all))
	for _, p := range all {
		if controllerutil.IsPodActive(p) {
			active = append(active, p)
		}
	}
	mgr := &controllerutil.RefManager{
		Owner:    rs,
		OwnerGVK: c.kind,
		Selector: selector,
		CanAdopt: controllerutil.RecheckOwner(rs, func(ctx context.Context) (metav1.Object, error) {
			return c.owners.getLive(ctx, ns, name)
		}),
		Patch: controllerutil.PodPatcher(c.client),
	}
	pods, err := controllerutil.Claim(ctx, mgr, active)
	if err != nil {
		return err
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, rs, pods)
	}

	status := calculateStatus(rs, pods, manageErr, c.now())
	if err := c.updateStatus(ctx, rs, status); err != nil {
		return err
	}
	if manageErr != nil {
		return manageErr
	}
	if rs.Spec.MinReadySeconds > 0 && status.ReadyReplicas == replicasOf(rs) && status.AvailableReplicas != replicasOf(rs) {
		c.queue.AddAfter(key, time.Duration(rs.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// manageReplicas creates or deletes pods so that len(pods) moves towards spec.replicas.
func (c *Controller) manageReplicas(ctx context.Context, key string, rs *appsv1.ReplicaSet, pods []*corev1.Pod) error {
	diff := len(pods) - int(replicasOf(rs))
	switch {
	case diff < 0:
		n := min(-diff, BurstReplicas)
		c.expectations.ExpectCreations(key, n)
		ok, err := controllerutil.SlowStartBatch(ctx, n, controllerutil.SlowStartInitialBatchSize, func(ctx context.Context) error {
			return c.createPod(ctx, rs)
		})
		// Creations that failed or never ran will not show up in the informer.
		for range n - ok {
			c.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, BurstReplicas)
		victims := podsToDelete(pods, n)
		uids := make([]string, len(victims))
		for i, p := range victims {
			uids[i] = string(p.UID)
		}
		c.expectations.ExpectDeletions(key, uids)
		var wg sync.WaitGroup
		errs := make([]error, len(victims))
		for i, p := range victims {
			wg.Go(func() {
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
				if err != nil {
					c.expectations.DeletionObserved(key, string(p.UID))
					if !apierrors.IsNotFound(err) {
						c.recorder.Eventf(c.owners.eventTarget(rs), corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
						errs[i] = fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
					}
					return
				}
				c.recorder.Eventf(c.owners.eventTarget(rs), corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod := controllerutil.PodFromTemplate(&rs.Spec.Template, rs, c.kind)
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		c.recorder.Eventf(c.owners.eventTarget(rs), corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("creating pod for %s %s/%s: %w", c.kind.Kind, rs.Namespace, rs.Name, err)
	}
	c.recorder.Eventf(c.owners.eventTarget(rs), corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

// calculateStatus derives the ReplicaSet status from its active pods.
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0
	tmplLabels := labels.Set(rs.Spec.Template.Labels)
	for _, p := range pods {
		if labels.SelectorFromSet(tmplLabels).Matches(labels.Set(p.Labels)) {
			st.FullyLabeledReplicas++
		}
		if controllerutil.IsPodReady(p) {
			st.ReadyReplicas++
			if controllerutil.IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
	}
	st.ObservedGeneration = rs.Generation
	failure := -1
	for i, cond := range st.Conditions {
		if cond.Type == appsv1.ReplicaSetReplicaFailure {
			failure = i
		}
	}
	switch {
	case manageErr != nil && failure < 0:
		reason := "FailedCreate"
		if len(pods) > int(replicasOf(rs)) {
			reason = "FailedDelete"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && failure >= 0:
		st.Conditions = append(st.Conditions[:failure:failure], st.Conditions[failure+1:]...)
	}
	return st
}

// updateStatus writes status if it changed, retrying once on a conflict with a fresh copy.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) error {
	if apiequality.Semantic.DeepEqual(rs.Status, status) {
		return nil
	}
	cp := rs.DeepCopy()
	cp.Status = status
	for attempt := 0; ; attempt++ {
		err := c.owners.updateStatus(ctx, cp)
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return fmt.Errorf("updating status of %s %s/%s: %w", c.kind.Kind, rs.Namespace, rs.Name, err)
		}
		fresh, gerr := c.owners.getLive(ctx, cp.Namespace, cp.Name)
		if gerr != nil {
			return fmt.Errorf("updating status of %s %s/%s: %w", c.kind.Kind, rs.Namespace, rs.Name, gerr)
		}
		// Write what this sync observed (including its generation) onto the fresh copy.
		cp = fresh
		cp.Status = status
	}
}
