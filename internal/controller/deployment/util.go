package deployment

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotations and labels shared with kubectl.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	lastAppliedAnnotation     = "kubectl.kubernetes.io/last-applied-configuration"
	rollbackToAnnotation      = "deprecated.deployment.rollback.to"

	// maxRevisionHistoryChars bounds the revision-history annotation like upstream.
	maxRevisionHistoryChars = 2000
)

// Condition reasons, worded like upstream (kubectl rollout status matches on some of them).
const (
	reasonNewRSCreated       = "NewReplicaSetCreated"
	reasonFoundNewRS         = "FoundNewReplicaSet"
	reasonRSUpdated          = "ReplicaSetUpdated"
	reasonNewRSAvailable     = "NewReplicaSetAvailable"
	reasonTimedOut           = "ProgressDeadlineExceeded"
	reasonPaused             = "DeploymentPaused"
	reasonResumed            = "DeploymentResumed"
	reasonFailedRSCreate     = "ReplicaSetCreateError"
	reasonMinimumAvailable   = "MinimumReplicasAvailable"
	reasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

// Defaults for fields the API server normally fills in; applied here too so a Deployment that
// reached us undefaulted still behaves like upstream.
const (
	defaultRevisionHistoryLimit = 10
	defaultProgressDeadline     = 600
)

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func rsReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

func isRecreate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType
}

func revisionHistoryLimit(d *appsv1.Deployment) int {
	if d.Spec.RevisionHistoryLimit == nil {
		return defaultRevisionHistoryLimit
	}
	return int(*d.Spec.RevisionHistoryLimit)
}

// progressDeadline returns the progress deadline and whether the Deployment has one
// (upstream treats MaxInt32 as "none").
func progressDeadline(d *appsv1.Deployment) (time.Duration, bool) {
	s := int32(defaultProgressDeadline)
	if d.Spec.ProgressDeadlineSeconds != nil {
		s = *d.Spec.ProgressDeadlineSeconds
	}
	if s == math.MaxInt32 {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// surgeAndUnavailable resolves maxSurge (rounded up) and maxUnavailable (rounded down) against
// spec.replicas; if both come out 0, maxUnavailable becomes 1 so a rollout can progress.
// Recreate Deployments have neither.
func surgeAndUnavailable(d *appsv1.Deployment) (surge, unavailable int32) {
	if isRecreate(d) {
		return 0, 0
	}
	quarter := intstr.FromString("25%")
	ms, mu := &quarter, &quarter
	if ru := d.Spec.Strategy.RollingUpdate; ru != nil {
		if ru.MaxSurge != nil {
			ms = ru.MaxSurge
		}
		if ru.MaxUnavailable != nil {
			mu = ru.MaxUnavailable
		}
	}
	n := int(replicas(d))
	s, err := intstr.GetScaledValueFromIntOrPercent(ms, n, true)
	if err != nil {
		s = 0
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(mu, n, false)
	if err != nil {
		u = 0
	}
	if s == 0 && u == 0 {
		u = 1
	}
	if u > n {
		u = n
	}
	return int32(s), int32(u)
}

func maxSurge(d *appsv1.Deployment) int32 {
	s, _ := surgeAndUnavailable(d)
	return s
}

func maxUnavailable(d *appsv1.Deployment) int32 {
	_, u := surgeAndUnavailable(d)
	return u
}

// equalIgnoreHash compares two pod templates ignoring the pod-template-hash label.
func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// revisionOf parses a ReplicaSet's revision annotation (0 when absent or malformed).
func revisionOf(obj metav1.Object) int64 {
	v, err := strconv.ParseInt(obj.GetAnnotations()[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func maxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, revisionOf(rs))
	}
	return m
}

func skipCopy(key string) bool {
	switch key {
	case lastAppliedAnnotation, RevisionAnnotation, RevisionHistoryAnnotation,
		DesiredReplicasAnnotation, MaxReplicasAnnotation, rollbackToAnnotation:
		return true
	}
	return false
}

// copyAnnotations copies the Deployment's own annotations (e.g. kubernetes.io/change-cause, which
// `kubectl rollout history` shows) onto the ReplicaSet; reports whether anything changed.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if skipCopy(k) {
			continue
		}
		if cur, ok := rs.Annotations[k]; !ok || cur != v {
			rs.Annotations[k] = v
			changed = true
		}
	}
	return changed
}

// setRSAnnotations copies the Deployment's annotations and raises the ReplicaSet's revision to
// newRevision, appending the old one to revision-history when an existing ReplicaSet is reused.
func setRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision int64, exists bool) bool {
	changed := copyAnnotations(d, rs)
	oldRevision := rs.Annotations[RevisionAnnotation]
	if old := revisionOf(rs); old < newRevision {
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(newRevision, 10)
		changed = true
		if exists && oldRevision != "" {
			history := rs.Annotations[RevisionHistoryAnnotation]
			if history == "" {
				history = oldRevision
			} else {
				history += "," + oldRevision
			}
			for len(history) > maxRevisionHistoryChars {
				_, rest, ok := strings.Cut(history, ",")
				if !ok {
					break
				}
				history = rest
			}
			rs.Annotations[RevisionHistoryAnnotation] = history
		}
	}
	if !exists && setReplicasAnnotations(rs, replicas(d), replicas(d)+maxSurge(d)) {
		changed = true
	}
	return changed
}

// setReplicasAnnotations records the desired and maximum sizes the ReplicaSet was scaled for;
// proportional scaling reads them back.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(desired))
	rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

func intAnnotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// setDeploymentRevision sets the Deployment's own revision annotation; reports a change.
func setDeploymentRevision(d *appsv1.Deployment, revision string) bool {
	if d.Annotations[RevisionAnnotation] == revision {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = revision
	return true
}

func filterActive(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && rsReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

func specSum(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += rsReplicas(rs)
	}
	return n
}

// availableEstimate is how many of rs's pods can be counted on as available: never more than its
// spec (a scaled-down ReplicaSet deletes its unavailable pods first, and its status may still count
// pods it has just deleted).
func availableEstimate(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return min(rsReplicas(rs), rs.Status.AvailableReplicas)
}

// sortByCreation orders ReplicaSets oldest first (then by name).
func sortByCreation(rss []*appsv1.ReplicaSet) {
	slices.SortStableFunc(rss, func(a, b *appsv1.ReplicaSet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// Conditions.

func getCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func newCondition(t appsv1.DeploymentConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: s, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

// setCondition replaces the condition of that type; an unchanged status and reason is left alone,
// and a changed reason with the same status keeps the transition time.
func setCondition(st *appsv1.DeploymentStatus, cond appsv1.DeploymentCondition) {
	cur := getCondition(st, cond.Type)
	if cur != nil && cur.Status == cond.Status && cur.Reason == cond.Reason {
		return
	}
	if cur != nil && cur.Status == cond.Status {
		cond.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, cond.Type)
	st.Conditions = append(st.Conditions, cond)
}

func removeCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	out := st.Conditions[:0:0]
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}
