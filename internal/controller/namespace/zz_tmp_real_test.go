package namespace

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

func TestTmpReal(t *testing.T) {
	s := framework.Start(t, framework.Options{})
	cfg := rest.CopyConfig(s.Config)
	client := kubernetes.NewForConfigOrDie(cfg)
	md := metadata.NewForConfigOrDie(cfg)
	ctx := context.Background()
	_, _ = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	_, _ = client.CoreV1().ConfigMaps("x").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{})
	_, err := client.CoreV1().Pods("x").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Finalizers: []string{"batch.kubernetes.io/job-tracking"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "i"}}}}, metav1.CreateOptions{})
	t.Logf("create pod: %v", err)
	_, err = client.CoreV1().Events("x").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}, InvolvedObject: corev1.ObjectReference{Name: "p", Namespace: "x"}}, metav1.CreateOptions{})
	t.Logf("create event: %v", err)
	_ = client.CoreV1().Namespaces().Delete(ctx, "x", metav1.DeleteOptions{})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Options{Metadata: md})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	for i := 0; i < 3; i++ {
		err := c.sync(ctx, "x")
		t.Logf("sync: %v", err)
		ns, err := client.CoreV1().Namespaces().Get(ctx, "x", metav1.GetOptions{})
		t.Logf("ns %v %+v", err, ns)
		time.Sleep(time.Second)
	}
}
