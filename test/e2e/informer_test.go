package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// recorder collects informer events in arrival order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) handler(kind string) cache.ResourceEventHandlerFuncs {
	name := func(obj interface{}) string {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		m, _ := obj.(metav1.Object)
		if m == nil {
			return "?"
		}
		return m.GetName()
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) { r.add(fmt.Sprintf("%s add %s", kind, name(obj))) },
		UpdateFunc: func(old, obj interface{}) {
			o, n := old.(metav1.Object), obj.(metav1.Object)
			if o.GetResourceVersion() != n.GetResourceVersion() {
				r.add(fmt.Sprintf("%s update %s", kind, name(obj)))
			}
		},
		DeleteFunc: func(obj interface{}) { r.add(fmt.Sprintf("%s delete %s", kind, name(obj))) },
	}
}

func (r *recorder) waitFor(t *testing.T, want ...string) {
	t.Helper()
	// Each informer has its own watch, so order is checked per kind: want's entries of one kind
	// must appear in that order among the events of that kind.
	kindOf := func(e string) string { return strings.SplitN(e, " ", 2)[0] }
	// 60 s: after a server restart client-go's reflectors retry with a back-off that grows
	// while the server is down, so they may come back well after it does.
	framework.Eventually(t, 60*time.Second, fmt.Sprintf("events %v", want), func() (bool, error) {
		got := r.snapshot()
		for _, kind := range []string{"pod", "deploy"} {
			var w []string
			for _, e := range want {
				if kindOf(e) == kind {
					w = append(w, e)
				}
			}
			i := 0
			for _, g := range got {
				if kindOf(g) == kind && i < len(w) && g == w[i] {
					i++
				}
			}
			if i != len(w) {
				return false, fmt.Errorf("got %v", got)
			}
		}
		return true, nil
	})
}

// TestInformersSeeEveryEventAcrossRestart runs pod and deployment informers through creates,
// updates and deletes, restarts the server, and checks they resynchronise (relist on 410).
func TestInformersSeeEveryEventAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := s.Client
	rec := &recorder{}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	podInf := factory.Core().V1().Pods().Informer()
	depInf := factory.Apps().V1().Deployments().Informer()
	if _, err := podInf.AddEventHandler(rec.handler("pod")); err != nil {
		t.Fatal(err)
	}
	if _, err := depInf.AddEventHandler(rec.handler("deploy")); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), podInf.HasSynced, depInf.HasSynced) {
		t.Fatal("caches did not sync")
	}

	exercise := func(cs kubernetes.Interface, suffix string) {
		t.Helper()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-" + suffix}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create pod: %v", err)
		}
		one := int32(1)
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d-" + suffix}, Spec: appsv1.DeploymentSpec{Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "d"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "d"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
		if _, err := cs.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create deployment: %v", err)
		}
		// The scheduler writes the pod's status concurrently (no nodes: Unschedulable), so the
		// update retries on conflict as any client must.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "p-"+suffix, metav1.GetOptions{})
			if err != nil {
				return err
			}
			p.Labels = map[string]string{"touched": "yes"}
			_, err = cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			t.Fatalf("update pod: %v", err)
		}
		zero := int64(0)
		if err := cs.CoreV1().Pods("default").Delete(ctx, "p-"+suffix, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatalf("delete pod: %v", err)
		}
		if err := cs.AppsV1().Deployments("default").Delete(ctx, "d-"+suffix, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("delete deployment: %v", err)
		}
	}
	exercise(cs, "a")
	rec.waitFor(t, "pod add p-a", "deploy add d-a", "pod update p-a", "pod delete p-a", "deploy delete d-a")

	// Objects created while the server is down and up again must reach the informers after it returns.
	s.Restart(t)
	exercise(s.Client, "b")
	rec.waitFor(t, "pod add p-b", "deploy add d-b", "pod update p-b", "pod delete p-b", "deploy delete d-b")
	// The Deployments' own pods (made by the real controllers) go away with the garbage
	// collector; the test's pods must be gone from the informer already.
	for _, name := range []string{"default/p-a", "default/p-b"} {
		if _, exists, _ := podInf.GetStore().GetByKey(name); exists {
			t.Fatalf("pod informer still holds %s after it was deleted", name)
		}
	}
}
