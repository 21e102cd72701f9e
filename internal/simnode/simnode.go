package simnode

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
)

// Annotations that shape how a terminating pod ends.
const (
	AnnotationExitCode = "skiff.dev/simulate-exit-code"
	AnnotationDuration = "skiff.dev/simulate-duration"
)

// KubeletVersion is what simulated nodes report in status.nodeInfo.
const KubeletVersion = "v1.37.2-skiff"

// Options shape the simulated fleet; see the package documentation.
type Options struct {
	Count             int
	NamePrefix        string
	CPU               string
	Memory            string
	Pods              string
	Labels            map[string]string
	HeartbeatInterval time.Duration
	PodIPCIDR         string
	JobPodDuration    time.Duration
}

const (
	defaultPrefix     = "sim-"
	defaultCPU        = "4"
	defaultMemory     = "16Gi"
	defaultPods       = "110"
	defaultEphemeral  = "100Gi"
	defaultHeartbeat  = 10 * time.Second
	defaultPodIPCIDR  = "100.64.0.0/10"
	defaultJobPodTime = time.Second

	// statusReportInterval is how often a node's status is rewritten when
	// nothing changed (the kubelet's nodeStatusReportFrequency).
	statusReportInterval = 5 * time.Minute
	// Concurrency of API writes: registration, heartbeats, pod status.
	registerWorkers  = 32
	heartbeatWorkers = 64
	podWorkers       = 64
)

func (o Options) withDefaults() Options {
	if o.NamePrefix == "" {
		o.NamePrefix = defaultPrefix
	}
	if o.CPU == "" {
		o.CPU = defaultCPU
	}
	if o.Memory == "" {
		o.Memory = defaultMemory
	}
	if o.Pods == "" {
		o.Pods = defaultPods
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = defaultHeartbeat
	}
	if o.PodIPCIDR == "" {
		o.PodIPCIDR = defaultPodIPCIDR
	}
	if o.JobPodDuration <= 0 {
		o.JobPodDuration = defaultJobPodTime
	}
	return o
}

// Run registers the simulated nodes and keeps them alive until ctx is done.
// It returns an error if the options are invalid or registration fails.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1 // no client-side throttling
	cfg.Burst = 0
	// Protobuf, as a kubelet uses: cheaper to encode and decode than JSON
	// for thousands of heartbeats and pod status updates.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	if cfg.UserAgent == "" {
		cfg.UserAgent = "skiff-simnode"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("simnode: client: %w", err)
	}
	f, err := newFleet(client, opts, clock.RealClock{})
	if err != nil {
		return err
	}
	return f.run(ctx)
}

// simNode is one simulated node's state. Everything but the fields under
// mu is fixed after registration.
type simNode struct {
	name  string
	index int
	ip    string
	// bucket is the heartbeat slot within the interval.
	bucket int
	// beating is set while a heartbeat is queued or running, so a slow
	// server does not pile up renewals of the same node.
	beating atomic.Bool

	mu         sync.Mutex
	registered bool
	uid        string
	podCIDR    string // spec.podCIDR once the server allocated one
	lastStatus time.Time
	// statusStale: someone else changed our Ready condition; rewrite it.
	statusStale bool
	deleted     bool
	lease       *leaseState
}

// fleet is the set of simulated nodes served by one process.
type fleet struct {
	client kubernetes.Interface
	opts   Options
	clock  clock.WithTicker

	capacity v1.ResourceList
	nodes    map[string]*simNode // fixed after newFleet
	order    []*simNode
	ips      *ipam

	factory    informers.SharedInformerFactory // nodes
	podFactory informers.SharedInformerFactory // bound pods
	podLister  corelisters.PodLister
	podSynced  cache.InformerSynced
	nodeSync   cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]

	// nsOnce guards creating kube-node-lease if the server lacks it.
	nsOnce sync.Once
}

func newFleet(client kubernetes.Interface, opts Options, clk clock.WithTicker) (*fleet, error) {
	opts = opts.withDefaults()
	if opts.Count <= 0 {
		return nil, fmt.Errorf("simnode: count must be positive, got %d", opts.Count)
	}
	capacity := v1.ResourceList{}
	for name, s := range map[v1.ResourceName]string{
		v1.ResourceCPU: opts.CPU, v1.ResourceMemory: opts.Memory, v1.ResourcePods: opts.Pods,
		v1.ResourceEphemeralStorage: defaultEphemeral,
	} {
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return nil, fmt.Errorf("simnode: invalid %s capacity %q: %w", name, s, err)
		}
		capacity[name] = q
	}
	pool, err := netip.ParsePrefix(opts.PodIPCIDR)
	if err != nil || !pool.Addr().Is4() {
		return nil, fmt.Errorf("simnode: invalid pod IP CIDR %q (an IPv4 prefix is required)", opts.PodIPCIDR)
	}
	f := &fleet{
		client:   client,
		opts:     opts,
		clock:    clk,
		capacity: capacity,
		nodes:    make(map[string]*simNode, opts.Count),
		order:    make([]*simNode, 0, opts.Count),
		ips:      newIPAM(pool.Masked()),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "simnode-pods", Clock: clk},
		),
	}
	slots := heartbeatSlots(opts.Count, opts.HeartbeatInterval)
	base := nodeIPBase(opts.NamePrefix)
	for i := 0; i < opts.Count; i++ {
		n := &simNode{
			name:   fmt.Sprintf("%s%d", opts.NamePrefix, i),
			index:  i,
			ip:     addrAdd(base, uint32(i+1)).String(),
			bucket: i % slots,
		}
		f.nodes[n.name] = n
		f.order = append(f.order, n)
	}

	// One informer for the whole fleet's pods: only pods bound to some
	// node (field selector), without managedFields, to keep memory small.
	f.podFactory = informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTransform(stripManagedFields),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	f.factory = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(stripManagedFields))
	podInformer := f.podFactory.Core().V1().Pods()
	f.podLister = podInformer.Lister()
	f.podSynced = podInformer.Informer().HasSynced
	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.enqueuePod,
		UpdateFunc: func(_, obj any) { f.enqueuePod(obj) },
		DeleteFunc: f.enqueuePod,
	})
	nodeInformer := f.factory.Core().V1().Nodes().Informer()
	f.nodeSync = nodeInformer.HasSynced
	_, _ = nodeInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    f.observeNode,
		UpdateFunc: func(_, obj any) { f.observeNode(obj) },
		DeleteFunc: f.forgetNode,
	})
	return f, nil
}

func (f *fleet) run(ctx context.Context) error {
	logger := klog.FromContext(ctx)
	start := f.clock.Now()
	if err := f.registerAll(ctx); err != nil {
		return err
	}
	logger.Info("Simulated nodes registered", "count", len(f.order), "prefix", f.opts.NamePrefix,
		"took", f.clock.Since(start).Round(time.Millisecond))

	f.factory.Start(ctx.Done())
	f.podFactory.Start(ctx.Done())
	defer f.factory.Shutdown()
	defer f.podFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), f.podSynced, f.nodeSync) {
		return nil
	}
	var wg sync.WaitGroup
	for i := 0; i < podWorkers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f.processNextPod(ctx) {
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.heartbeatLoop(ctx)
	}()
	<-ctx.Done()
	f.queue.ShutDown()
	wg.Wait()
	return nil
}

// stripManagedFields drops managedFields from cached objects.
func stripManagedFields(obj any) (any, error) {
	if acc, err := meta.Accessor(obj); err == nil {
		acc.SetManagedFields(nil)
	}
	return obj, nil
}

// heartbeatSlots divides the interval into slots of at least 10ms, at most
// one per node, so each tick renews Count/slots leases.
func heartbeatSlots(count int, interval time.Duration) int {
	slots := int(interval / (10 * time.Millisecond))
	if slots > count {
		slots = count
	}
	if slots < 1 {
		slots = 1
	}
	return slots
}

// nodeIPBase picks one of 16 /16 blocks of 172.16.0.0/12 from the name
// prefix, so fleets with different prefixes get different node IPs.
func nodeIPBase(prefix string) netip.Addr {
	h := fnv.New32a()
	_, _ = h.Write([]byte(prefix))
	return addrAdd(netip.AddrFrom4([4]byte{172, 16, 0, 0}), (h.Sum32()%16)<<16)
}
