// Package endpoints maintains the core/v1 Endpoints object of every Service that has a selector:
// the addresses of the matching pods (ready ones in addresses, the others in notReadyAddresses),
// with each service port resolved against the pod's container ports. It follows upstream's
// endpoint-controller.
package endpoints

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/controller/endpoints/podendpoint"
)

const (
	// maxCapacity is the most addresses an Endpoints object holds; beyond it upstream truncates
	// and marks the object with overCapacityAnnotation.
	maxCapacity            = 1000
	overCapacityAnnotation = "endpoints.kubernetes.io/over-capacity"
	// headlessLabel marks the Endpoints of headless Services, as upstream does.
	headlessLabel = "service.kubernetes.io/headless"
)

// Controller keeps Endpoints in step with Services and pods.
type Controller struct {
	client    kubernetes.Interface
	svcLister corelisters.ServiceLister
	podLister corelisters.PodLister
	epLister  corelisters.EndpointsLister
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string] // service keys
	events    record.EventBroadcaster
	recorder  record.EventRecorder
	written   *writtenVersions
	podEvents podendpoint.PodEvents
}

// New registers the service, pod and endpoints informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory) *Controller {
	svcInf := factory.Core().V1().Services()
	podInf := factory.Core().V1().Pods()
	epInf := factory.Core().V1().Endpoints()
	events, recorder := controllerutil.NewEventRecorder("endpoint-controller")
	c := &Controller{
		client:    client,
		svcLister: svcInf.Lister(),
		podLister: podInf.Lister(),
		epLister:  epInf.Lister(),
		synced:    []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced, epInf.Informer().HasSynced},
		queue:     controllerutil.NewQueue("endpoint"),
		events:    events,
		recorder:  recorder,
		written:   &writtenVersions{rv: map[string]uint64{}},
	}
	c.podEvents = podendpoint.PodEvents{Services: c.svcLister, Queue: c.queue}
	_, _ = svcInf.Informer().AddEventHandler(controllerutil.EnqueueHandler(c.queue))
	_, _ = podInf.Informer().AddEventHandler(c.podEvents.Handler())
	_, _ = epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		// Someone deleted an Endpoints object we maintain: put it back.
		DeleteFunc: func(obj any) {
			if key, ok := controllerutil.KeyOf(obj); ok {
				c.written.forget(key)
				c.queue.Add(key)
			}
		},
	})
	return c
}

// Run processes services with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.events, c.client)
	controllerutil.RunWorkers(ctx, "endpoint", c.queue, workers, c.sync, c.synced...)
}

// sync makes the Endpoints of the Service key match its pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The Service is gone: its Endpoints go too (upstream deletes them whatever made them).
		err := c.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting endpoints %s: %w", key, err)
		}
		c.written.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting service %s: %w", key, err)
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil // user-managed endpoints
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("listing pods of service %s: %w", key, err)
	}
	subsets, truncated := desiredSubsets(svc, pods)

	current, err := c.epLister.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting endpoints %s: %w", key, err)
	}
	if current != nil && c.written.stale(key, current.ResourceVersion) {
		// Our cache has not caught up with our own last write; comparing against it would undo
		// or repeat that write. Retry once the informer delivers it.
		return fmt.Errorf("endpoints %s cache older than our last write", key)
	}
	desired := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: desiredLabels(svc)},
		Subsets:    subsets,
	}
	if truncated {
		desired.Annotations = map[string]string{overCapacityAnnotation: "truncated"}
	}
	if current == nil {
		created, err := c.client.CoreV1().Endpoints(ns).Create(ctx, desired, metav1.CreateOptions{})
		if err != nil {
			if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToCreateEndpoint", "Failed to create endpoint for service %s: %v", key, err)
			return fmt.Errorf("creating endpoints %s: %w", key, err)
		}
		c.written.record(key, created.ResourceVersion)
		return nil
	}
	if sameEndpoints(current, desired) {
		return nil
	}
	updated := current.DeepCopy()
	updated.Labels = desired.Labels
	updated.Subsets = desired.Subsets
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	if truncated {
		updated.Annotations[overCapacityAnnotation] = "truncated"
	} else {
		delete(updated.Annotations, overCapacityAnnotation)
	}
	result, err := c.client.CoreV1().Endpoints(ns).Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		if !apierrors.IsConflict(err) {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpoint", "Failed to update endpoint %s: %v", key, err)
		}
		return fmt.Errorf("updating endpoints %s: %w", key, err)
	}
	c.written.record(key, result.ResourceVersion)
	return nil
}

// desiredLabels are the Service's labels plus the headless marker.
func desiredLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	if podendpoint.IsHeadless(svc) {
		out[headlessLabel] = ""
	} else {
		delete(out, headlessLabel)
	}
	return out
}

func sameEndpoints(current, desired *corev1.Endpoints) bool {
	_, curTrunc := current.Annotations[overCapacityAnnotation]
	_, wantTrunc := desired.Annotations[overCapacityAnnotation]
	return curTrunc == wantTrunc &&
		maps.Equal(current.Labels, desired.Labels) &&
		apiequality.Semantic.DeepEqual(normalise(current.Subsets), normalise(desired.Subsets))
}

func normalise(s []corev1.EndpointSubset) []corev1.EndpointSubset {
	if len(s) == 0 {
		return nil
	}
	return s
}

// podAddress is one pod's entry: its address, readiness and the ports it serves.
type podAddress struct {
	addr  corev1.EndpointAddress
	ready bool
	ports []corev1.EndpointPort
}

// desiredSubsets computes the Endpoints subsets for svc from pods: pods serving the same port set
// share a subset; ready pods go to addresses, the others to notReadyAddresses. It reports
// whether addresses had to be dropped to stay within maxCapacity.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) ([]corev1.EndpointSubset, bool) {
	family := podendpoint.ServiceFamilies(svc)[0]
	var entries []podAddress
	for _, pod := range pods {
		if !podendpoint.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ip := podendpoint.PodIP(pod, family)
		if ip == "" {
			continue
		}
		e := podAddress{
			addr: corev1.EndpointAddress{
				IP:        ip,
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
			},
			ready: svc.Spec.PublishNotReadyAddresses || podendpoint.IsPodReady(pod),
		}
		if pod.Spec.NodeName != "" {
			e.addr.NodeName = ptrTo(pod.Spec.NodeName)
		}
		if podendpoint.ShouldSetHostname(pod, svc) {
			e.addr.Hostname = pod.Spec.Hostname
		}
		if len(svc.Spec.Ports) == 0 {
			// Only headless Services may list addresses without ports.
			if !podendpoint.IsHeadless(svc) {
				continue
			}
		} else {
			for i := range svc.Spec.Ports {
				sp := &svc.Spec.Ports[i]
				port, err := podendpoint.FindPort(pod, sp)
				if err != nil {
					continue
				}
				e.ports = append(e.ports, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: protocolOr(sp.Protocol), AppProtocol: sp.AppProtocol})
			}
			if len(e.ports) == 0 {
				continue
			}
		}
		entries = append(entries, e)
	}
	return pack(entries)
}

func protocolOr(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// pack groups entries with identical port sets into subsets, sorted for stable output, keeping at
// most maxCapacity addresses (ready ones first).
func pack(entries []podAddress) ([]corev1.EndpointSubset, bool) {
	truncated := false
	if len(entries) > maxCapacity {
		slices.SortStableFunc(entries, func(a, b podAddress) int {
			switch {
			case a.ready == b.ready:
				return 0
			case a.ready:
				return -1
			default:
				return 1
			}
		})
		entries = entries[:maxCapacity]
		truncated = true
	}
	type group struct {
		ports    []corev1.EndpointPort
		ready    []corev1.EndpointAddress
		notReady []corev1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, e := range entries {
		slices.SortFunc(e.ports, comparePorts)
		k := portsKey(e.ports)
		g := groups[k]
		if g == nil {
			g = &group{ports: e.ports}
			groups[k] = g
		}
		if e.ready {
			g.ready = append(g.ready, e.addr)
		} else {
			g.notReady = append(g.notReady, e.addr)
		}
	}
	keys := slices.Sorted(maps.Keys(groups))
	subsets := make([]corev1.EndpointSubset, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g.ready, compareAddresses)
		slices.SortFunc(g.notReady, compareAddresses)
		subsets = append(subsets, corev1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.notReady, Ports: g.ports})
	}
	return subsets, truncated
}

func comparePorts(a, b corev1.EndpointPort) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := int(a.Port) - int(b.Port); c != 0 {
		return c
	}
	return strings.Compare(string(a.Protocol), string(b.Protocol))
}

func portsKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.Name + "/" + strconv.Itoa(int(p.Port)) + "/" + string(p.Protocol) + ";")
	}
	return b.String()
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	if c := strings.Compare(a.IP, b.IP); c != 0 {
		return c
	}
	return strings.Compare(string(a.TargetRef.UID), string(b.TargetRef.UID))
}

func ptrTo[T any](v T) *T { return &v }

// writtenVersions remembers the resourceVersion of each Endpoints object this controller last
// wrote, so a sync can tell that its informer copy predates that write. skiff's resourceVersions
// are etcd revisions and so comparable as numbers.
type writtenVersions struct {
	mu sync.Mutex
	rv map[string]uint64
}

func (w *writtenVersions) record(key, rv string) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	w.mu.Lock()
	w.rv[key] = n
	w.mu.Unlock()
}

func (w *writtenVersions) forget(key string) {
	w.mu.Lock()
	delete(w.rv, key)
	w.mu.Unlock()
}

// stale reports whether rv (from the informer) is older than our last write of key.
func (w *writtenVersions) stale(key, rv string) bool {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.rv[key]
	return ok && n < last
}
