package controllerutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	appslisters "k8s.io/client-go/listers/apps/v1"
)

// ControllerRevisionHashLabel is upstream's label naming the revision (or its hash) a pod was made from.
const ControllerRevisionHashLabel = "controller-revision-hash"

// revisionHashLabel is the label upstream puts on ControllerRevisions with their own hash.
const revisionHashLabel = "controller.kubernetes.io/hash"

// TemplatePatch returns the data a StatefulSet or DaemonSet stores in a ControllerRevision: the
// strategic merge patch {"spec":{"template":{...,"$patch":"replace"}}}. `kubectl rollout undo`
// applies exactly this patch to roll the workload back, so the shape must match upstream's.
func TemplatePatch(template *corev1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, fmt.Errorf("encoding pod template: %w", err)
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("decoding pod template: %w", err)
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// NewRevision builds (does not create) the ControllerRevision number `revision` of owner holding
// data. Its name is <owner>-<hash>, the hash covering data and collisionCount.
func NewRevision(owner metav1.Object, ownerGVK schema.GroupVersionKind, templateLabels map[string]string,
	data []byte, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	hash := HashBytes(data, collisionCount)
	lbls := maps.Clone(templateLabels)
	if lbls == nil {
		lbls = map[string]string{}
	}
	lbls[revisionHashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            RevisionName(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          lbls,
			OwnerReferences: []metav1.OwnerReference{NewControllerRef(owner, ownerGVK)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
}

// ClaimRevisions returns the ControllerRevisions in the namespace of m's owner that belong to it
// after adoption and release (see Claim), sorted by SortRevisions.
func ClaimRevisions(ctx context.Context, lister appslisters.ControllerRevisionLister, m *RefManager) ([]*appsv1.ControllerRevision, error) {
	all, err := lister.ControllerRevisions(m.Owner.GetNamespace()).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing controllerrevisions: %w", err)
	}
	revs, err := Claim(ctx, m, all)
	SortRevisions(revs)
	return revs, err
}

// RevisionName is upstream's <owner>-<hash> naming, shortened so the result stays a valid name.
func RevisionName(owner, hash string) string {
	const maxPrefix = 253 - 1 - 10
	if len(owner) > maxPrefix {
		owner = owner[:maxPrefix]
	}
	return owner + "-" + hash
}

// RevisionHash returns the hash part of a revision's name as stored in its label.
func RevisionHash(rev *appsv1.ControllerRevision) string {
	return rev.Labels[revisionHashLabel]
}

// RevisionDataEqual reports whether two revisions hold the same template.
func RevisionDataEqual(a, b *appsv1.ControllerRevision) bool {
	return bytes.Equal(compactJSON(a.Data.Raw), compactJSON(b.Data.Raw))
}

func compactJSON(b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return b
	}
	return buf.Bytes()
}

// SortRevisions orders revisions by Revision number, then creation time, then name.
func SortRevisions(revs []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		if a.Revision != b.Revision {
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		}
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
}

// NextRevision returns one more than the highest Revision number (1 when there is none).
func NextRevision(revs []*appsv1.ControllerRevision) int64 {
	var maxRev int64
	for _, r := range revs {
		maxRev = max(maxRev, r.Revision)
	}
	return maxRev + 1
}

// FormatRevision renders a revision number the way annotations store it.
func FormatRevision(n int64) string { return strconv.FormatInt(n, 10) }
