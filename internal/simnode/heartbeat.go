package simnode

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// leaseState is what a node remembers of its Lease between renewals: just
// enough to send an update without reading it first.
type leaseState struct {
	uid             types.UID
	resourceVersion string
	ownerUID        types.UID
}

// leaseDurationSeconds is the kubelet's default (40s), stretched for long
// heartbeat intervals so a lease always outlives four renewals.
func (f *fleet) leaseDurationSeconds() int32 {
	d := int32(40)
	if s := int32((4 * f.opts.HeartbeatInterval).Seconds()); s > d {
		d = s
	}
	return d
}

func (f *fleet) leaseObject(n *simNode, nodeUID types.UID, st *leaseState) *coordinationv1.Lease {
	holder := n.name
	dur := f.leaseDurationSeconds()
	now := metav1.NewMicroTime(f.clock.Now())
	l := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:            n.name,
			Namespace:       v1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{nodeOwnerRef(n.name, nodeUID)},
		},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &dur, RenewTime: &now},
	}
	if st != nil {
		l.UID = st.uid
		l.ResourceVersion = st.resourceVersion
	}
	return l
}

// ensureLease creates the node's Lease or, if it exists, renews it.
func (f *fleet) ensureLease(ctx context.Context, n *simNode, nodeUID types.UID) error {
	leases := f.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	created, err := leases.Create(ctx, f.leaseObject(n, nodeUID, nil), metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		// The lease namespace is missing (servers create it at start); make it once.
		f.nsOnce.Do(func() {
			ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1.NamespaceNodeLease}}
			_, _ = f.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
		})
		created, err = leases.Create(ctx, f.leaseObject(n, nodeUID, nil), metav1.CreateOptions{})
	}
	switch {
	case err == nil:
	case apierrors.IsAlreadyExists(err):
		cur, err := leases.Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("simnode: get lease %s: %w", n.name, err)
		}
		l := f.leaseObject(n, nodeUID, &leaseState{uid: cur.UID, resourceVersion: cur.ResourceVersion})
		if created, err = leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("simnode: renew lease %s: %w", n.name, err)
		}
	default:
		return fmt.Errorf("simnode: create lease %s: %w", n.name, err)
	}
	n.mu.Lock()
	n.lease = &leaseState{uid: created.UID, resourceVersion: created.ResourceVersion, ownerUID: nodeUID}
	n.mu.Unlock()
	return nil
}

// heartbeatLoop renews every node's Lease once per interval. The interval
// is cut into slots; each tick hands one slot's nodes to a few workers, so
// the renewals are spread evenly instead of bursting, and cost no
// goroutine or timer per node.
func (f *fleet) heartbeatLoop(ctx context.Context) {
	slots := heartbeatSlots(len(f.order), f.opts.HeartbeatInterval)
	buckets := make([][]*simNode, slots)
	for _, n := range f.order {
		buckets[n.bucket] = append(buckets[n.bucket], n)
	}
	work := make(chan *simNode, len(f.order))
	var wg sync.WaitGroup
	for i := 0; i < min(heartbeatWorkers, len(f.order)); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := f.heartbeat(ctx, n); err != nil && ctx.Err() == nil {
					logError(ctx, err, "Heartbeat failed", "node", n.name)
				}
				n.beating.Store(false)
			}
		}()
	}
	defer func() {
		close(work)
		wg.Wait()
	}()

	// Registration just wrote every lease; start at a random slot so that
	// several fleets started together do not beat in step.
	slot := rand.IntN(slots)
	ticker := f.clock.NewTicker(f.opts.HeartbeatInterval / time.Duration(slots))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		for _, n := range buckets[slot] {
			if !n.beating.CompareAndSwap(false, true) {
				continue // the previous renewal is still under way
			}
			select {
			case work <- n:
			case <-ctx.Done():
				return
			}
		}
		slot = (slot + 1) % slots
	}
}

// heartbeat renews one node's Lease and, when due, its status.
func (f *fleet) heartbeat(ctx context.Context, n *simNode) error {
	n.mu.Lock()
	deleted, registered, st, uid := n.deleted, n.registered, n.lease, types.UID(n.uid)
	statusDue := n.statusStale || f.clock.Since(n.lastStatus) >= statusReportInterval
	n.mu.Unlock()
	if deleted || !registered {
		return nil
	}
	if err := f.renewLease(ctx, n, uid, st); err != nil {
		return err
	}
	if statusDue {
		return f.postStatus(ctx, n)
	}
	return nil
}

func (f *fleet) renewLease(ctx context.Context, n *simNode, nodeUID types.UID, st *leaseState) error {
	if st == nil {
		return f.ensureLease(ctx, n, nodeUID)
	}
	leases := f.client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	updated, err := leases.Update(ctx, f.leaseObject(n, nodeUID, st), metav1.UpdateOptions{})
	switch {
	case err == nil:
		n.mu.Lock()
		n.lease = &leaseState{uid: updated.UID, resourceVersion: updated.ResourceVersion, ownerUID: nodeUID}
		n.mu.Unlock()
		return nil
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		// Someone else wrote or deleted it: start over from the server's copy.
		return f.ensureLease(ctx, n, nodeUID)
	default:
		return fmt.Errorf("simnode: renew lease %s: %w", n.name, err)
	}
}
