package apiserver

import (
	"context"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/limitranger"
	"github.com/skiff-sh/skiff/internal/store"
)

// podServiceAccount is the service account a new pod names, which must exist, as upstream's
// ServiceAccount admission has it. The service-account controller creates "default" a moment
// after its namespace, so a pod made in the same breath (kubectl apply of a namespace and a pod)
// waits for it a little, up to about two seconds; any other name is looked up once.
func (s *Server) podServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	h := s.byGR[corev1.SchemeGroupVersion.WithResource("serviceaccounts").GroupResource()]
	if h == nil {
		return &corev1.ServiceAccount{}, nil
	}
	key := ns + "/" + name
	if obj, err := h.storage.GetCached(key); err == nil {
		if sa, ok := obj.(*corev1.ServiceAccount); ok {
			return sa, nil
		}
	}
	attempts := 1
	if name == "default" {
		attempts = 10
	}
	for i := 0; ; i++ {
		// The cache may lag a service account created a moment ago; the store has it.
		obj, err := h.storage.Get(ctx, key)
		if err == nil {
			if sa, ok := obj.(*corev1.ServiceAccount); ok {
				return sa, nil
			}
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if i+1 >= attempts {
			return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(100+rand.IntN(100)) * time.Millisecond):
		}
	}
}

// admitLimitRanges applies the LimitRanges of a new pod's or claim's namespace to it (defaults,
// then bounds), as upstream's LimitRanger admission does.
func (s *Server) admitLimitRanges(ctx context.Context, obj runtime.Object) error {
	pod, isPod := obj.(*corev1.Pod)
	pvc, isPVC := obj.(*corev1.PersistentVolumeClaim)
	if !isPod && !isPVC {
		return nil
	}
	h := s.byGR[corev1.Resource("limitranges")]
	if h == nil {
		return nil
	}
	var ns string
	if isPod {
		ns = pod.Namespace
	} else {
		ns = pvc.Namespace
	}
	// The cache, as upstream's admission reads its informer: a range created a moment ago may
	// not apply yet.
	res, err := h.storage.List(ctx, store.ListOptions{Prefix: ns + "/", ResourceVersion: "0"})
	if err != nil || len(res.Items) == 0 {
		return err
	}
	ranges := make([]*corev1.LimitRange, 0, len(res.Items))
	for _, it := range res.Items {
		if lr, ok := it.Obj.(*corev1.LimitRange); ok {
			ranges = append(ranges, lr)
		}
	}
	if isPod {
		return limitranger.AdmitPod(pod, ranges)
	}
	return limitranger.AdmitPersistentVolumeClaim(pvc, ranges)
}

// isMirrorPod reports whether pod is a node agent's mirror of a static pod, which upstream
// admits without a service account.
func isMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]
	return ok
}
