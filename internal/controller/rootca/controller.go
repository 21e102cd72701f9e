// Package rootca publishes the cluster's CA bundle as the ConfigMap
// "kube-root-ca.crt" (key "ca.crt") in every active namespace, as upstream's
// root-ca-cert-publisher does: pods' service-account token volumes and
// in-cluster clients read the CA from it. It recreates the ConfigMap when it
// is deleted and puts the data back when someone changes it.
package rootca

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Name is the ConfigMap's name, and Key its data key.
const (
	Name = "kube-root-ca.crt"
	Key  = "ca.crt"
)

// Controller keeps kube-root-ca.crt in each namespace.
type Controller struct {
	client    kubernetes.Interface
	caPEM     string
	nsLister  corelisters.NamespaceLister
	cmLister  corelisters.ConfigMapLister
	cmFactory informers.SharedInformerFactory
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string] // namespace names
}

// New watches namespaces through factory and, through a factory of its own
// that Run starts, only the ConfigMaps named kube-root-ca.crt: a
// cluster-wide ConfigMap informer would cost every ConfigMap write a watch
// event for nothing.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, caPEM []byte) *Controller {
	nsInf := factory.Core().V1().Namespaces()
	cmFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", Name).String()
	}))
	cmInf := cmFactory.Core().V1().ConfigMaps()
	c := &Controller{
		client:    client,
		caPEM:     string(caPEM),
		nsLister:  nsInf.Lister(),
		cmLister:  cmInf.Lister(),
		cmFactory: cmFactory,
		synced:    []cache.InformerSynced{nsInf.Informer().HasSynced, cmInf.Informer().HasSynced},
		queue:     controllerutil.NewQueue("rootca"),
	}
	_, _ = nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	})
	_, _ = cmInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { c.enqueueConfigMap(obj) },
		DeleteFunc: c.enqueueConfigMap,
	})
	return c
}

func (c *Controller) enqueueNamespace(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || controllerutil.Terminating(ns) {
		return
	}
	c.queue.Add(ns.Name)
}

func (c *Controller) enqueueConfigMap(obj any) {
	if cm, ok := controllerutil.Tombstone[*corev1.ConfigMap](obj); ok && cm.Name == Name {
		c.queue.Add(cm.Namespace)
	}
}

// Run starts the ConfigMap informer and processes namespaces with workers
// goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	c.cmFactory.Start(ctx.Done())
	defer c.cmFactory.Shutdown()
	controllerutil.RunWorkers(ctx, "rootca", c.queue, workers, c.sync, c.synced...)
}

// sync makes namespace name's kube-root-ca.crt hold the CA bundle.
func (c *Controller) sync(ctx context.Context, name string) error {
	if active, err := controllerutil.ActiveNamespace(c.nsLister, name); !active || err != nil {
		return err
	}
	cm, err := c.cmLister.ConfigMaps(name).Get(Name)
	switch {
	case apierrors.IsNotFound(err):
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: name}, Data: map[string]string{Key: c.caPEM}}
		if _, err := c.client.CoreV1().ConfigMaps(name).Create(ctx, cm, metav1.CreateOptions{}); controllerutil.IgnoreCreateRace(err) != nil {
			return fmt.Errorf("creating configmap %s/%s: %w", name, Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("getting configmap %s/%s: %w", name, Name, err)
	}
	if len(cm.Data) == 1 && cm.Data[Key] == c.caPEM && len(cm.BinaryData) == 0 {
		return nil
	}
	fixed := cm.DeepCopy()
	fixed.Data, fixed.BinaryData = map[string]string{Key: c.caPEM}, nil
	if _, err := c.client.CoreV1().ConfigMaps(name).Update(ctx, fixed, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating configmap %s/%s: %w", name, Name, err)
	}
	return nil
}
