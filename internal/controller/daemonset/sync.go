package daemonset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

const defaultRevisionHistoryLimit = 10

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting daemonset %s: %w", key, err)
	}
	ds := cached.DeepCopy()
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	revs, err := c.claimRevisions(ctx, ds, selector)
	if err != nil {
		return err
	}
	cur, collisionCount, err := c.currentRevision(ctx, ds, revs)
	if err != nil {
		return err
	}
	hash := controllerutil.RevisionHash(cur)
	pods, err := c.claimPods(ctx, ds, selector)
	if err != nil {
		return err
	}
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		byNode[pinnedNode(p)] = append(byNode[pinnedNode(p)], p)
	}

	var syncErr error
	if ds.DeletionTimestamp == nil && c.expectations.Satisfied(key) {
		wrote := false
		wrote, syncErr = c.manage(ctx, key, ds, nodes, byNode, hash)
		if syncErr == nil && !wrote && updateStrategyIsRolling(ds) {
			syncErr = c.rollingUpdate(ctx, key, ds, nodes, byNode, hash)
		}
		if syncErr == nil {
			syncErr = c.truncateHistory(ctx, ds, pods, revs, cur)
		}
	}
	st, requeue := c.calculateStatus(ds, nodes, byNode, hash)
	if collisionCount != 0 || ds.Status.CollisionCount != nil {
		st.CollisionCount = ptr.To(collisionCount)
	}
	if err := c.writeStatus(ctx, ds, st); err != nil {
		return errors.Join(syncErr, err)
	}
	if syncErr != nil {
		return syncErr
	}
	if requeue > 0 {
		c.queue.AddAfter(key, requeue)
	}
	return nil
}

func updateStrategyIsRolling(ds *appsv1.DaemonSet) bool {
	return ds.Spec.UpdateStrategy.Type != appsv1.OnDeleteDaemonSetStrategyType
}

func (c *Controller) recheck(ds *appsv1.DaemonSet) func(context.Context) error {
	return controllerutil.RecheckOwner(ds, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	})
}

func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	return controllerutil.Claim(ctx, c.refManager(ds, selector, controllerutil.PodPatcher(c.client)), all)
}

func (c *Controller) claimRevisions(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*appsv1.ControllerRevision, error) {
	return controllerutil.ClaimRevisions(ctx, c.revLister, c.refManager(ds, selector, controllerutil.ControllerRevisionPatcher(c.client)))
}

func (c *Controller) refManager(ds *appsv1.DaemonSet, selector labels.Selector, patch controllerutil.Patcher) *controllerutil.RefManager {
	return &controllerutil.RefManager{Owner: ds, OwnerGVK: controllerKind, Selector: selector, CanAdopt: c.recheck(ds), Patch: patch}
}

// currentRevision finds or creates the ControllerRevision of the present template, giving an
// older equivalent one (a rollback) the next revision number.
func (c *Controller) currentRevision(ctx context.Context, ds *appsv1.DaemonSet, revs []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, int32, error) {
	collisionCount := ptr.Deref(ds.Status.CollisionCount, 0)
	data, err := controllerutil.TemplatePatch(&ds.Spec.Template)
	if err != nil {
		return nil, collisionCount, err
	}
	next := controllerutil.NextRevision(revs)
	var equal *appsv1.ControllerRevision
	for _, r := range revs {
		if controllerutil.RevisionDataEqual(r, &appsv1.ControllerRevision{Data: runtimeRaw(data)}) {
			equal = r
		}
	}
	if equal != nil {
		if equal == revs[len(revs)-1] {
			return equal, collisionCount, nil
		}
		cp := equal.DeepCopy()
		cp.Revision = next
		updated, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
		if err != nil {
			return nil, collisionCount, fmt.Errorf("renumbering controllerrevision %s: %w", cp.Name, err)
		}
		return updated, collisionCount, nil
	}
	for range 10 {
		rev := controllerutil.NewRevision(ds, controllerKind, ds.Spec.Template.Labels, data, next, &collisionCount)
		created, err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Create(ctx, rev, metav1.CreateOptions{})
		if err == nil {
			return created, collisionCount, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, collisionCount, fmt.Errorf("creating controllerrevision %s: %w", rev.Name, err)
		}
		live, gerr := c.client.AppsV1().ControllerRevisions(ds.Namespace).Get(ctx, rev.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, collisionCount, fmt.Errorf("getting controllerrevision %s: %w", rev.Name, gerr)
		}
		if ref := metav1.GetControllerOf(live); ref != nil && ref.UID == ds.UID && controllerutil.RevisionDataEqual(live, rev) {
			return live, collisionCount, nil
		}
		collisionCount++
	}
	return nil, collisionCount, fmt.Errorf("no free controllerrevision name for daemonset %s/%s", ds.Namespace, ds.Name)
}

// manage creates the missing daemon pods and deletes misplaced, surplus and failed ones. It
// reports whether it issued any write.
func (c *Controller) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) (bool, error) {
	surge := maxSurge(ds, len(nodes)) > 0
	var create []string
	var remove []*corev1.Pod
	known := map[string]bool{}
	for _, node := range nodes {
		known[node.Name] = true
		run, keep := shouldRun(ds, node)
		var alive []*corev1.Pod
		for _, p := range byNode[node.Name] {
			if p.DeletionTimestamp != nil {
				continue
			}
			if p.Status.Phase == corev1.PodFailed {
				c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
				remove = append(remove, p)
				continue
			}
			alive = append(alive, p)
		}
		switch {
		case run && len(alive) == 0:
			create = append(create, node.Name)
		case !keep:
			remove = append(remove, alive...)
		case len(alive) > 1:
			remove = append(remove, surplus(alive, hash, ds.Generation, surge)...)
		}
	}
	// Pods for nodes that no longer exist (or pinned to none) can never run.
	for nodeName, list := range byNode {
		if known[nodeName] {
			continue
		}
		for _, p := range list {
			if p.DeletionTimestamp == nil {
				remove = append(remove, p)
			}
		}
	}
	return len(create)+len(remove) > 0, c.syncNodes(ctx, key, ds, remove, create, hash)
}

// surplus picks the extra pods on one node: all but the oldest, or, while surging during an
// update, all but the oldest new-revision and the oldest old-revision pod.
func surplus(pods []*corev1.Pod, hash string, generation int64, surge bool) []*corev1.Pod {
	sorted := slices.Clone(pods)
	slices.SortStableFunc(sorted, func(a, b *corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	if !surge {
		return sorted[1:]
	}
	var out []*corev1.Pod
	var haveNew, haveOld bool
	for _, p := range sorted {
		if isUpdated(p, hash, generation) {
			if !haveNew {
				haveNew = true
				continue
			}
		} else if !haveOld {
			haveOld = true
			continue
		}
		out = append(out, p)
	}
	return out
}

// syncNodes deletes the given pods and creates one pod on each named node, recording
// expectations so the next sync waits until the informer has seen all of it.
func (c *Controller) syncNodes(ctx context.Context, key string, ds *appsv1.DaemonSet, remove []*corev1.Pod, create []string, hash string) error {
	if len(create) > BurstReplicas {
		create = create[:BurstReplicas]
	}
	if len(remove) == 0 && len(create) == 0 {
		return nil
	}
	uids := make([]string, len(remove))
	for i, p := range remove {
		uids[i] = string(p.UID)
	}
	c.expectations.ExpectDeletions(key, uids)
	// ExpectDeletions replaced the record; add the creations to it.
	for range create {
		c.expectations.CreationExpected(key)
	}

	var errs []error
	var mu sync.Mutex
	next := 0
	ok, err := controllerutil.SlowStartBatch(ctx, len(create), controllerutil.SlowStartInitialBatchSize, func(ctx context.Context) error {
		mu.Lock()
		nodeName := create[next]
		next++
		mu.Unlock()
		pod := newDaemonPod(ds, nodeName, hash)
		created, err := c.client.CoreV1().Pods(ds.Namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return fmt.Errorf("creating daemon pod for node %s: %w", nodeName, err)
		}
		c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
		return nil
	})
	for range len(create) - ok {
		c.expectations.CreationObserved(key)
	}
	if err != nil {
		errs = append(errs, err)
	}

	var wg sync.WaitGroup
	delErrs := make([]error, len(remove))
	for i, p := range remove {
		wg.Go(func() {
			err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil {
				c.expectations.DeletionObserved(key, string(p.UID))
				if !apierrors.IsNotFound(err) {
					c.recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
					delErrs[i] = fmt.Errorf("deleting daemon pod %s: %w", p.Name, err)
				}
				return
			}
			c.recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
		})
	}
	wg.Wait()
	return errors.Join(append(errs, delErrs...)...)
}

func maxSurge(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if !updateStrategyIsRolling(ds) || ru == nil || ru.MaxSurge == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	if err != nil {
		return 0
	}
	return n
}

func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	one := intstr.FromInt32(1)
	mu := &one
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		mu = ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(mu, desired, true)
	if err != nil {
		n = 1
	}
	if n == 0 && maxSurge(ds, desired) == 0 {
		n = 1
	}
	return n
}

// podsOnNode returns the new-revision and old-revision pod of a node; ok is false when there
// are several of either (manage will remove the extras first).
func podsOnNode(pods []*corev1.Pod, hash string, generation int64) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(p, hash, generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// rollingUpdate replaces old-revision pods node by node: without surge it deletes old pods while
// fewer than maxUnavailable nodes lack an available daemon; with surge it first starts the new
// pod next to the old one and deletes the old one once the new one is available.
func (c *Controller) rollingUpdate(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	now := c.now()
	desired := 0
	var eligible []*corev1.Node
	for _, n := range nodes {
		if run, _ := shouldRun(ds, n); run {
			desired++
			eligible = append(eligible, n)
		}
	}
	available := func(p *corev1.Pod) bool { return controllerutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) }
	surge, unavailable := maxSurge(ds, desired), maxUnavailable(ds, desired)

	if surge == 0 {
		numUnavailable := 0
		var replace, candidates []*corev1.Pod
		for _, n := range eligible {
			newPod, oldPod, ok := podsOnNode(byNode[n.Name], hash, ds.Generation)
			if !ok {
				continue
			}
			switch {
			case newPod == nil && oldPod == nil, newPod != nil && oldPod != nil:
				numUnavailable++
			case newPod != nil:
				if !available(newPod) {
					numUnavailable++
				}
			default:
				if !available(oldPod) {
					replace = append(replace, oldPod) // costs no availability
				} else if numUnavailable < unavailable {
					candidates = append(candidates, oldPod)
				}
			}
		}
		budget := min(max(unavailable-numUnavailable, 0), len(candidates))
		return c.syncNodes(ctx, key, ds, append(replace, candidates[:budget]...), nil, hash)
	}

	numSurge := 0
	var allowedNew, candidateNew []string
	var removeOld []*corev1.Pod
	for _, n := range eligible {
		newPod, oldPod, ok := podsOnNode(byNode[n.Name], hash, ds.Generation)
		if !ok {
			continue
		}
		switch {
		case oldPod == nil:
		case newPod == nil:
			switch {
			case !available(oldPod):
				allowedNew = append(allowedNew, n.Name)
			case numSurge >= surge:
			default:
				candidateNew = append(candidateNew, n.Name)
			}
		default:
			if !available(newPod) {
				numSurge++
				continue
			}
			removeOld = append(removeOld, oldPod)
		}
	}
	budget := min(max(surge-numSurge, 0), len(candidateNew))
	return c.syncNodes(ctx, key, ds, removeOld, append(allowedNew, candidateNew[:budget]...), hash)
}

// calculateStatus counts, per eligible node, the daemon pod's state. It also returns when a
// ready pod will turn available, if that is what the status waits for.
func (c *Controller) calculateStatus(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) (appsv1.DaemonSetStatus, time.Duration) {
	now := c.now()
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, Conditions: ds.Status.Conditions}
	var requeue time.Duration
	for _, n := range nodes {
		run, _ := shouldRun(ds, n)
		pods := byNode[n.Name]
		scheduled := len(pods) > 0
		switch {
		case run && scheduled:
			st.DesiredNumberScheduled++
			st.CurrentNumberScheduled++
			sorted := slices.Clone(pods)
			slices.SortStableFunc(sorted, func(a, b *corev1.Pod) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
			p := sorted[0]
			if controllerutil.IsPodReady(p) {
				st.NumberReady++
				if controllerutil.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) {
					st.NumberAvailable++
				} else if d := controllerutil.UntilAvailable(p, ds.Spec.MinReadySeconds, now); d > 0 && (requeue == 0 || d < requeue) {
					requeue = d
				}
			}
			if isUpdated(p, hash, ds.Generation) {
				st.UpdatedNumberScheduled++
			}
		case run:
			st.DesiredNumberScheduled++
		case scheduled:
			st.NumberMisscheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st, requeue
}

func (c *Controller) writeStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus) error {
	if apiequality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	cp := ds.DeepCopy()
	cp.Status = st
	_, err := c.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, cp, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

// truncateHistory deletes the oldest revisions no pod uses beyond revisionHistoryLimit.
func (c *Controller) truncateHistory(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, cur *appsv1.ControllerRevision) error {
	live := map[string]bool{controllerutil.RevisionHash(cur): true}
	for _, p := range pods {
		live[p.Labels[controllerutil.ControllerRevisionHashLabel]] = true
	}
	var dead []*appsv1.ControllerRevision
	for _, r := range revs {
		if r.Name != cur.Name && !live[controllerutil.RevisionHash(r)] {
			dead = append(dead, r)
		}
	}
	limit := defaultRevisionHistoryLimit
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	for i := 0; i < len(dead)-limit; i++ {
		err := c.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, dead[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting controllerrevision %s: %w", dead[i].Name, err)
		}
	}
	return nil
}
