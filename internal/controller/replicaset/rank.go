package replicaset

import (
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// PodDeletionCostAnnotation lets users say which pods to remove first on scale-down (lower first).
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n pods to remove on scale-down in upstream's order of preference:
// unscheduled before scheduled, Pending before Unknown before Running, not ready before ready,
// lower deletion cost first, pods doubled up on a node first, recently ready before long ready,
// more restarts first, newer before older.
func podsToDelete(pods []*corev1.Pod, n int) []*corev1.Pod {
	if n >= len(pods) {
		return pods
	}
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	ranked := slices.Clone(pods)
	slices.SortStableFunc(ranked, func(a, b *corev1.Pod) int {
		return deleteFirst(a, b, perNode)
	})
	return ranked[:n]
}

func boolFirst(a, b bool) int {
	switch {
	case a && !b:
		return -1
	case b && !a:
		return 1
	}
	return 0
}

// phaseRank orders phases for deletion: Pending, then Unknown, then Running.
func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	}
	return 2
}

// deleteFirst returns a negative number when a should be deleted before b.
func deleteFirst(a, b *corev1.Pod, perNode map[string]int) int {
	if c := boolFirst(a.Spec.NodeName == "", b.Spec.NodeName == ""); c != 0 {
		return c
	}
	if pa, pb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); pa != pb {
		return pa - pb
	}
	ra, rb := controllerutil.IsPodReady(a), controllerutil.IsPodReady(b)
	if c := boolFirst(!ra, !rb); c != 0 {
		return c
	}
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		if ca < cb {
			return -1
		}
		return 1
	}
	if na, nb := perNode[a.Spec.NodeName], perNode[b.Spec.NodeName]; na != nb {
		return nb - na
	}
	if ra && rb {
		ta, tb := controllerutil.PodReadyCondition(a).LastTransitionTime, controllerutil.PodReadyCondition(b).LastTransitionTime
		if c := tb.Compare(ta.Time); c != 0 {
			return c // later ready first
		}
	}
	if xa, xb := maxRestarts(a), maxRestarts(b); xa != xb {
		return int(xb - xa)
	}
	return b.CreationTimestamp.Compare(a.CreationTimestamp.Time) // newer first
}

func deletionCost(p *corev1.Pod) int64 {
	v, err := strconv.ParseInt(p.Annotations[PodDeletionCostAnnotation], 10, 32)
	if err != nil {
		return 0
	}
	return v
}

func maxRestarts(p *corev1.Pod) int32 {
	var m int32
	for _, s := range p.Status.ContainerStatuses {
		m = max(m, s.RestartCount)
	}
	return m
}
