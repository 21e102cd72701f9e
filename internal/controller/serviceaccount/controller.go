// Package serviceaccount keeps a ServiceAccount named "default" in every active namespace, as
// upstream's serviceaccounts-controller does: it is created when the namespace appears and
// recreated whenever someone deletes it.
package serviceaccount

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// DefaultName is the name of the ServiceAccount every namespace gets.
const DefaultName = "default"

// Controller ensures the default ServiceAccount exists in each namespace.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string] // namespace names
}

// New registers the namespace and serviceaccount informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	nsInf := factory.Core().V1().Namespaces()
	saInf := factory.Core().V1().ServiceAccounts()
	c := &Controller{
		client:   client,
		nsLister: nsInf.Lister(),
		saLister: saInf.Lister(),
		synced:   []cache.InformerSynced{nsInf.Informer().HasSynced, saInf.Informer().HasSynced},
		queue:    controllerutil.NewQueue("serviceaccount"),
	}
	_, _ = nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNamespace(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	})
	_, _ = saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.onServiceAccountDelete})
	return c
}

// onServiceAccountDelete requeues the namespace of a deleted default ServiceAccount so that it is
// recreated.
func (c *Controller) onServiceAccountDelete(obj any) {
	sa, ok := controllerutil.Tombstone[*corev1.ServiceAccount](obj)
	if ok && sa.Name == DefaultName {
		c.queue.Add(sa.Namespace)
	}
}

func (c *Controller) enqueueNamespace(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || controllerutil.Terminating(ns) {
		return
	}
	c.queue.Add(ns.Name)
}

// Run processes namespaces with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.RunWorkers(ctx, "serviceaccount", c.queue, workers, c.sync, c.synced...)
}

// sync creates the default ServiceAccount of namespace name if it is missing.
func (c *Controller) sync(ctx context.Context, name string) error {
	if active, err := controllerutil.ActiveNamespace(c.nsLister, name); !active || err != nil {
		return err
	}
	if _, err := c.saLister.ServiceAccounts(name).Get(DefaultName); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting serviceaccount %s/%s: %w", name, DefaultName, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: name}}
	if _, err := c.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); controllerutil.IgnoreCreateRace(err) != nil {
		return fmt.Errorf("creating serviceaccount %s/%s: %w", name, DefaultName, err)
	}
	return nil
}
