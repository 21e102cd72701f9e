// Package endpointslice maintains discovery.k8s.io/v1 EndpointSlices for every Service that has a
// selector, as upstream's endpointslice-controller does: one endpoint per matching pod and address
// family, with ready/serving/terminating conditions, grouped by the ports they serve into slices of
// at most MaxEndpointsPerSlice endpoints, owned by the Service and labelled
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by.
package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
	"github.com/skiff-sh/skiff/internal/controller/endpoints/podendpoint"
)

const (
	// ControllerName is the value of the managed-by label on the slices this controller owns.
	ControllerName = "endpointslice-controller.k8s.io"
	// DefaultMaxEndpointsPerSlice is upstream's default --max-endpoints-per-slice.
	DefaultMaxEndpointsPerSlice = 100
)

// Options tunes the controller; the zero value means upstream's defaults.
type Options struct {
	// MaxEndpointsPerSlice caps the endpoints of one slice (default 100).
	MaxEndpointsPerSlice int
}

// Controller keeps EndpointSlices in step with Services and pods.
type Controller struct {
	client      kubernetes.Interface
	svcLister   corelisters.ServiceLister
	podLister   corelisters.PodLister
	nodeLister  corelisters.NodeLister
	sliceLister discoverylisters.EndpointSliceLister
	synced      []cache.InformerSynced
	queue       workqueue.TypedRateLimitingInterface[string] // service keys
	events      record.EventBroadcaster
	recorder    record.EventRecorder
	maxPerSlice int
	tracker     *sliceTracker
}

// New registers the service, pod, node and endpointslice informers and returns the controller.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts ...Options) *Controller {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.MaxEndpointsPerSlice <= 0 {
		o.MaxEndpointsPerSlice = DefaultMaxEndpointsPerSlice
	}
	svcInf := factory.Core().V1().Services()
	podInf := factory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	events, recorder := controllerutil.NewEventRecorder("endpoint-slice-controller")
	c := &Controller{
		client:      client,
		svcLister:   svcInf.Lister(),
		podLister:   podInf.Lister(),
		nodeLister:  nodeInf.Lister(),
		sliceLister: sliceInf.Lister(),
		synced: []cache.InformerSynced{svcInf.Informer().HasSynced, podInf.Informer().HasSynced,
			nodeInf.Informer().HasSynced, sliceInf.Informer().HasSynced},
		queue:       controllerutil.NewQueue("endpoint_slice"),
		events:      events,
		recorder:    recorder,
		maxPerSlice: o.MaxEndpointsPerSlice,
		tracker:     newSliceTracker(),
	}
	_, _ = svcInf.Informer().AddEventHandler(controllerutil.EnqueueHandler(c.queue, c.tracker.forgetService))
	_, _ = podInf.Informer().AddEventHandler(podendpoint.PodEvents{Services: c.svcLister, Queue: c.queue}.Handler())
	_, _ = sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.onSliceChange,
		UpdateFunc: func(_, obj any) { c.onSliceChange(obj) },
		DeleteFunc: c.onSliceDelete,
	})
	return c
}

// Run processes services with workers goroutines until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) {
	controllerutil.StartEvents(ctx, c.events, c.client)
	controllerutil.RunWorkers(ctx, "endpoint_slice", c.queue, workers, c.sync, c.synced...)
}

// serviceKeyOfSlice returns the key of the Service a slice managed by this controller belongs to.
func serviceKeyOfSlice(s *discoveryv1.EndpointSlice) (string, bool) {
	if s.Labels[discoveryv1.LabelManagedBy] != ControllerName {
		return "", false
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return "", false
	}
	return s.Namespace + "/" + name, true
}

func (c *Controller) onSliceChange(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if key, ok := serviceKeyOfSlice(s); ok {
		c.queue.Add(key)
	}
}

func (c *Controller) onSliceDelete(obj any) {
	s, ok := controllerutil.Tombstone[*discoveryv1.EndpointSlice](obj)
	if !ok {
		return
	}
	if key, ok := serviceKeyOfSlice(s); ok {
		c.tracker.observeDeletion(key, s.Name)
		c.queue.Add(key)
	}
}

// errStaleCache is returned (and the service retried) while the slice informer has not caught up
// with this controller's own writes.
var errStaleCache = errors.New("endpointslice informer cache is out of date")

// sync reconciles the EndpointSlices of the Service key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	svc, err := c.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The slices are owned by the Service; the garbage collector removes them.
		c.tracker.forgetService(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting service %s: %w", key, err)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil // no endpoints, or endpoints managed by the user
	}
	if svc.DeletionTimestamp != nil {
		return nil
	}
	pods, err := c.podLister.Pods(ns).List(labels.SelectorFromValidatedSet(svc.Spec.Selector))
	if err != nil {
		return fmt.Errorf("listing pods of service %s: %w", key, err)
	}
	existing, err := c.sliceLister.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}))
	if err != nil {
		return fmt.Errorf("listing endpointslices of service %s: %w", key, err)
	}
	if c.tracker.stale(key, existing) {
		return fmt.Errorf("service %s: %w", key, errStaleCache)
	}
	// The cache reflects all our writes: start tracking afresh for this round.
	c.tracker.forgetService(key)

	plan := c.plan(svc, pods, existing)
	return c.apply(ctx, svc, key, plan)
}

// desiredEndpoint is one pod's endpoint in one address family plus the ports it serves.
type desiredEndpoint struct {
	key      string
	endpoint discoveryv1.Endpoint
	ports    []discoveryv1.EndpointPort
}

// groupKey identifies slices that can hold an endpoint: same address type and same ports.
type groupKey struct {
	addressType discoveryv1.AddressType
	ports       string
}

// plan is the set of API writes that bring the slices to the desired state.
type plan struct {
	create []*discoveryv1.EndpointSlice
	update []*discoveryv1.EndpointSlice
	delete []*discoveryv1.EndpointSlice
}

func (c *Controller) plan(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice) plan {
	families := podendpoint.ServiceFamilies(svc)
	desired := map[groupKey][]desiredEndpoint{}
	portsOf := map[groupKey][]discoveryv1.EndpointPort{}
	for _, family := range families {
		addrType := discoveryv1.AddressType(family)
		for _, pod := range pods {
			if !podendpoint.ShouldPodBeInEndpoints(pod, true) {
				continue
			}
			ip := podendpoint.PodIP(pod, family)
			if ip == "" {
				continue
			}
			d := desiredEndpoint{
				key:      pod.Namespace + "/" + pod.Name,
				endpoint: c.podToEndpoint(pod, svc, ip),
				ports:    endpointPorts(svc, pod),
			}
			gk := groupKey{addressType: addrType, ports: portsKey(d.ports)}
			desired[gk] = append(desired[gk], d)
			portsOf[gk] = d.ports
		}
	}
	// A Service without endpoints still gets one empty slice, so that consumers can tell
	// "no endpoints" from "not processed yet".
	placeholder := len(desired) == 0
	if placeholder {
		gk := groupKey{addressType: discoveryv1.AddressType(families[0])}
		desired[gk] = nil
		portsOf[gk] = nil
	}

	byGroup := map[groupKey][]*discoveryv1.EndpointSlice{}
	var p plan
	for _, s := range existing {
		gk := groupKey{addressType: s.AddressType, ports: portsKey(s.Ports)}
		if _, wanted := desired[gk]; !wanted {
			p.delete = append(p.delete, s)
			continue
		}
		byGroup[gk] = append(byGroup[gk], s)
	}
	for _, gk := range slices.SortedFunc(maps.Keys(desired), compareGroupKeys) {
		c.planGroup(&p, svc, gk, portsOf[gk], desired[gk], byGroup[gk], placeholder)
	}
	return p
}

func compareGroupKeys(a, b groupKey) int {
	if c := strings.Compare(string(a.addressType), string(b.addressType)); c != 0 {
		return c
	}
	return strings.Compare(a.ports, b.ports)
}

// planGroup distributes the desired endpoints of one group over its existing slices: endpoints
// stay in the slice that already holds them, new ones fill slices that change anyway, then
// slices with room, then new slices; slices left empty are deleted.
func (c *Controller) planGroup(p *plan, svc *corev1.Service, gk groupKey, ports []discoveryv1.EndpointPort,
	want []desiredEndpoint, existing []*discoveryv1.EndpointSlice, placeholder bool) {
	wantByKey := make(map[string]desiredEndpoint, len(want))
	for _, d := range want {
		wantByKey[d.key] = d
	}
	slices.SortFunc(existing, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })

	type candidate struct {
		orig      *discoveryv1.EndpointSlice
		endpoints []discoveryv1.Endpoint
	}
	placed := map[string]bool{}
	cands := make([]*candidate, 0, len(existing))
	for _, s := range existing {
		cand := &candidate{orig: s}
		for _, ep := range s.Endpoints {
			k := endpointKey(ep)
			d, ok := wantByKey[k]
			if !ok || placed[k] || len(cand.endpoints) >= c.maxPerSlice {
				continue
			}
			placed[k] = true
			cand.endpoints = append(cand.endpoints, d.endpoint)
		}
		cands = append(cands, cand)
	}
	var remaining []discoveryv1.Endpoint
	for _, d := range want {
		if !placed[d.key] {
			remaining = append(remaining, d.endpoint)
		}
	}
	slices.SortFunc(remaining, func(a, b discoveryv1.Endpoint) int { return strings.Compare(endpointKey(a), endpointKey(b)) })

	desiredMeta := c.sliceMeta(svc)
	changed := func(cand *candidate) bool {
		return !apiequality.Semantic.DeepEqual(normaliseEndpoints(cand.orig.Endpoints), normaliseEndpoints(cand.endpoints)) ||
			!metaUpToDate(cand.orig, desiredMeta)
	}
	// Fill slices that need an update anyway first, then the others.
	for _, pass := range []bool{true, false} {
		for _, cand := range cands {
			if len(remaining) == 0 {
				break
			}
			if changed(cand) != pass {
				continue
			}
			room := c.maxPerSlice - len(cand.endpoints)
			n := min(room, len(remaining))
			cand.endpoints = append(cand.endpoints, remaining[:n]...)
			remaining = remaining[n:]
		}
	}
	kept := 0
	for _, cand := range cands {
		switch {
		case len(cand.endpoints) == 0 && !(placeholder && kept == 0):
			p.delete = append(p.delete, cand.orig)
		case changed(cand):
			kept++
			s := cand.orig.DeepCopy()
			s.Endpoints = cand.endpoints
			applyMeta(s, desiredMeta)
			p.update = append(p.update, s)
		default:
			kept++
		}
	}
	for len(remaining) > 0 || placeholder && kept == 0 {
		n := min(c.maxPerSlice, len(remaining))
		s := &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{GenerateName: slicePrefix(svc.Name), Namespace: svc.Namespace},
			AddressType: gk.addressType,
			Endpoints:   remaining[:n],
			Ports:       ports,
		}
		if s.Endpoints == nil {
			s.Endpoints = []discoveryv1.Endpoint{}
		}
		applyMeta(s, desiredMeta)
		p.create = append(p.create, s)
		remaining = remaining[n:]
		kept++
	}
}

// sliceMetadata is what every slice of a Service carries.
type sliceMetadata struct {
	labels    map[string]string
	ownerRefs []metav1.OwnerReference
}

func (c *Controller) sliceMeta(svc *corev1.Service) sliceMetadata {
	lbls := map[string]string{}
	for k, v := range svc.Labels {
		if k == discoveryv1.LabelServiceName || k == discoveryv1.LabelManagedBy || k == corev1.IsHeadlessService {
			continue
		}
		lbls[k] = v
	}
	lbls[discoveryv1.LabelServiceName] = svc.Name
	lbls[discoveryv1.LabelManagedBy] = ControllerName
	if podendpoint.IsHeadless(svc) {
		lbls[corev1.IsHeadlessService] = ""
	}
	ref := metav1.OwnerReference{APIVersion: "v1", Kind: "Service", Name: svc.Name, UID: svc.UID,
		Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}
	return sliceMetadata{labels: lbls, ownerRefs: []metav1.OwnerReference{ref}}
}

func metaUpToDate(s *discoveryv1.EndpointSlice, m sliceMetadata) bool {
	return maps.Equal(s.Labels, m.labels) && apiequality.Semantic.DeepEqual(s.OwnerReferences, m.ownerRefs)
}

func applyMeta(s *discoveryv1.EndpointSlice, m sliceMetadata) {
	s.Labels = maps.Clone(m.labels)
	s.OwnerReferences = slices.Clone(m.ownerRefs)
}

// slicePrefix is the generateName of a Service's slices, shortened so generated names stay valid.
func slicePrefix(svcName string) string {
	prefix := svcName + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"xxxxx")) != 0 {
		prefix = prefix[:len(prefix)-8] + "-"
	}
	return prefix
}

func normaliseEndpoints(eps []discoveryv1.Endpoint) []discoveryv1.Endpoint {
	if len(eps) == 0 {
		return nil
	}
	return eps
}

func endpointKey(ep discoveryv1.Endpoint) string {
	if ep.TargetRef != nil {
		return ep.TargetRef.Namespace + "/" + ep.TargetRef.Name
	}
	return strings.Join(ep.Addresses, ",")
}

func (c *Controller) podToEndpoint(pod *corev1.Pod, svc *corev1.Service, ip string) discoveryv1.Endpoint {
	serving := podendpoint.IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	// A terminating pod is never "ready" unless the Service publishes unready addresses.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses: []string{ip},
		Conditions: discoveryv1.EndpointConditions{
			Ready:       ptr.To(ready),
			Serving:     ptr.To(serving),
			Terminating: ptr.To(terminating),
		},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		ep.NodeName = ptr.To(pod.Spec.NodeName)
		if node, err := c.nodeLister.Get(pod.Spec.NodeName); err == nil {
			if zone := node.Labels[corev1.LabelTopologyZone]; zone != "" {
				ep.Zone = ptr.To(zone)
			}
		}
	}
	if podendpoint.ShouldSetHostname(pod, svc) {
		ep.Hostname = ptr.To(pod.Spec.Hostname)
	}
	return ep
}

// endpointPorts resolves the Service's ports against pod, skipping those the pod does not expose.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	var out []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := podendpoint.FindPort(pod, sp)
		if err != nil {
			continue
		}
		proto := sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(port), Protocol: ptr.To(proto), AppProtocol: sp.AppProtocol})
	}
	slices.SortFunc(out, func(a, b discoveryv1.EndpointPort) int { return strings.Compare(portString(a), portString(b)) })
	return out
}

func portString(p discoveryv1.EndpointPort) string {
	var b strings.Builder
	b.WriteString(ptr.Deref(p.Name, ""))
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(int(ptr.Deref(p.Port, 0))))
	b.WriteByte('/')
	b.WriteString(string(ptr.Deref(p.Protocol, "")))
	b.WriteByte('/')
	b.WriteString(ptr.Deref(p.AppProtocol, ""))
	return b.String()
}

func portsKey(ports []discoveryv1.EndpointPort) string {
	keys := make([]string, 0, len(ports))
	for _, p := range ports {
		keys = append(keys, portString(p))
	}
	slices.Sort(keys)
	return strings.Join(keys, ";")
}

// apply performs the plan: creations first so that consumers never see a Service without
// endpoints in the middle of a move, then updates, then deletions.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, key string, p plan) error {
	api := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	var errs []error
	for _, s := range p.create {
		created, err := api.Create(ctx, s, metav1.CreateOptions{})
		if err != nil {
			if apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				return nil
			}
			errs = append(errs, fmt.Errorf("creating endpointslice for %s: %w", key, err))
			continue
		}
		c.tracker.expectVersion(key, created.Name, created.ResourceVersion)
	}
	for _, s := range p.update {
		updated, err := api.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("updating endpointslice %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		c.tracker.expectVersion(key, updated.Name, updated.ResourceVersion)
	}
	for _, s := range p.delete {
		err := api.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting endpointslice %s/%s: %w", s.Namespace, s.Name, err))
			continue
		}
		c.tracker.expectDeleted(key, s.Name)
	}
	if err := errors.Join(errs...); err != nil {
		if !apierrors.IsConflict(err) {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices", "Error updating Endpoint Slices for Service %s: %v", key, err)
		}
		return err
	}
	return nil
}
