package apiserver

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/quota"
	"github.com/skiff-sh/skiff/internal/store"
)

// admitQuota charges a new object to the ResourceQuotas of its namespace, as upstream's quota
// admission does: a pod leaving out a cpu or memory request or limit a quota limits, or any
// object that would take a quota past its hard limits, is refused (403); otherwise each quota's
// status.used grows by the object's share before the object is stored, so that concurrent
// creates cannot overrun it. The resourcequota controller recounts usage from the objects
// themselves, returning what deleted or failed objects held.
func (s *Server) admitQuota(ctx context.Context, gr schema.GroupResource, name, namespace string, obj runtime.Object, dryRun bool) error {
	qh := s.byGR[corev1.Resource("resourcequotas")]
	if qh == nil || namespace == "" {
		return nil
	}
	res, err := qh.storage.List(ctx, store.ListOptions{Prefix: namespace + "/", ResourceVersion: "0"})
	if err != nil || len(res.Items) == 0 {
		return err
	}
	usage := quota.Usage(gr, obj)
	forbidden := func(err error) error { return apierrors.NewForbidden(gr, name, err) }
	type charge struct {
		key   string
		delta corev1.ResourceList
	}
	var charges []charge
	for _, it := range res.Items {
		rq, ok := it.Obj.(*corev1.ResourceQuota)
		if !ok || !quota.Matches(rq, obj) {
			continue
		}
		if pod, ok := obj.(*corev1.Pod); ok {
			if missing := quota.MissingRequests(pod, rq.Spec.Hard); missing != "" {
				return forbidden(fmt.Errorf("failed quota: %s: must specify %s", rq.Name, missing))
			}
		}
		delta := quota.Tracked(usage, rq.Spec.Hard)
		if len(delta) == 0 {
			continue
		}
		if err := checkQuota(rq, delta); err != nil {
			return forbidden(err)
		}
		charges = append(charges, charge{key: namespace + "/" + rq.Name, delta: delta})
	}
	if dryRun {
		return nil
	}
	sort.Slice(charges, func(i, j int) bool { return charges[i].key < charges[j].key })
	for _, c := range charges {
		// Checked again on the quota as stored: another create may have charged it meanwhile.
		_, _, err := qh.storage.Update(ctx, c.key, func(cur runtime.Object) (runtime.Object, store.Action, store.Reservations, error) {
			rq := cur.(*corev1.ResourceQuota)
			if err := checkQuota(rq, c.delta); err != nil {
				return nil, store.Keep, store.Reservations{}, forbidden(err)
			}
			rq.Status.Used = quota.Add(rq.Status.Used, c.delta)
			return rq, store.Put, store.Reservations{}, nil
		})
		if apierrors.IsNotFound(err) {
			continue // the quota went away
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkQuota refuses delta when the quota's usage is not known yet or delta does not fit.
func checkQuota(rq *corev1.ResourceQuota, delta corev1.ResourceList) error {
	var unknown []string
	for name := range delta {
		_, used := rq.Status.Used[name]
		_, hard := rq.Status.Hard[name]
		if !used || !hard {
			unknown = append(unknown, string(name))
		}
	}
	if len(unknown) > 0 {
		// The controller fills status in moments after a quota is made or changed; upstream
		// refuses until then too, and clients retry.
		sort.Strings(unknown)
		return fmt.Errorf("status unknown for quota: %s, resources: %s", rq.Name, strings.Join(unknown, ","))
	}
	if over := quota.Exceeded(rq.Status.Hard, rq.Status.Used, delta); len(over) > 0 {
		return fmt.Errorf("exceeded quota: %s, requested: %s, used: %s, limited: %s", rq.Name,
			quota.Format(delta, over), quota.Format(rq.Status.Used, over), quota.Format(rq.Status.Hard, over))
	}
	return nil
}
