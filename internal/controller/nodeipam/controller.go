// Package nodeipam gives each node a pod CIDR (spec.podCIDR) from the cluster CIDR, one /24
// per node by default, as kube-controller-manager's range allocator does.
package nodeipam

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/agent/cni"
	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// SimulatedLabel marks nodes without a pod network (simulated nodes); they get no CIDR.
const SimulatedLabel = "type"

// Options choose the ranges.
type Options struct {
	// ClusterCIDR is split among nodes (default 10.42.0.0/16).
	ClusterCIDR string
	// NodeMaskSize is the prefix length of each node's range (default 24).
	NodeMaskSize int
}

// Controller assigns pod CIDRs.
type Controller struct {
	client  kubernetes.Interface
	lister  corelisters.NodeLister
	synced  cache.InformerSynced
	queue   workqueue.TypedRateLimitingInterface[string]
	cluster *net.IPNet
	mask    int
	mu      sync.Mutex
}

// New registers the node informer.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Controller, error) {
	if opts.ClusterCIDR == "" {
		opts.ClusterCIDR = cni.DefaultClusterCIDR
	}
	if opts.NodeMaskSize == 0 {
		opts.NodeMaskSize = 24
	}
	_, cidr, err := net.ParseCIDR(opts.ClusterCIDR)
	if err != nil || cidr.IP.To4() == nil {
		return nil, fmt.Errorf("cluster CIDR %q: want an IPv4 CIDR", opts.ClusterCIDR)
	}
	if ones, _ := cidr.Mask.Size(); opts.NodeMaskSize < ones || opts.NodeMaskSize > 30 {
		return nil, fmt.Errorf("node mask /%d does not fit cluster CIDR %s", opts.NodeMaskSize, cidr)
	}
	inf := factory.Core().V1().Nodes()
	c := &Controller{client: client, lister: inf.Lister(), synced: inf.Informer().HasSynced,
		queue: controllerutil.NewQueue("nodeipam"), cluster: cidr, mask: opts.NodeMaskSize}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { c.enqueue(obj) },
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
	})
	return c, nil
}

func (c *Controller) enqueue(obj interface{}) {
	n, ok := obj.(*corev1.Node)
	if !ok || n.Spec.PodCIDR != "" || n.Labels[SimulatedLabel] == "simulated" {
		return
	}
	c.queue.Add(n.Name)
}

// Run processes nodes until ctx ends. One worker: allocation must see its own earlier choices.
func (c *Controller) Run(ctx context.Context, _ int) {
	controllerutil.Workers{
		Name: "nodeipam", Queue: c.queue, Sync: c.sync, Synced: []cache.InformerSynced{c.synced},
		LogError: func(logger klog.Logger, key string, err error) {
			logger.Error(err, "allocating pod CIDR", "node", key)
		},
	}.Run(ctx, 1)
}

// sync gives node name a free range, unless it has one.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.lister.Get(name)
	if err != nil || node.Spec.PodCIDR != "" {
		return nil
	}
	nodes, err := c.lister.List(everything())
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, n := range nodes {
		if n.Spec.PodCIDR != "" {
			used[n.Spec.PodCIDR] = true
		}
	}
	cidr, err := FirstFree(c.cluster, c.mask, used)
	if err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"spec":{"podCIDR":%q,"podCIDRs":[%q]}}`, cidr, cidr)
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "skiff-nodeipam"})
	return err
}

// FirstFree returns the lowest /mask subnet of cluster not in used.
func FirstFree(cluster *net.IPNet, mask int, used map[string]bool) (string, error) {
	ones, _ := cluster.Mask.Size()
	base := binary.BigEndian.Uint32(cluster.IP.To4())
	count := uint32(1) << (mask - ones)
	step := uint32(1) << (32 - mask)
	for i := uint32(0); i < count; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, base+i*step)
		s := fmt.Sprintf("%s/%d", ip, mask)
		if !used[s] {
			return s, nil
		}
	}
	return "", fmt.Errorf("no free /%d left in %s", mask, cluster)
}
