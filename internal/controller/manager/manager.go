// Package manager runs every controller and the scheduler of `skiff server` from one shared
// informer factory, under Lease leader election so several servers can run side by side.
package manager

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/cronjob"
	"github.com/skiff-sh/skiff/internal/controller/daemonset"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/endpoints"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/job"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/controller/resourcequota"
	"github.com/skiff-sh/skiff/internal/controller/rootca"
	"github.com/skiff-sh/skiff/internal/controller/serviceaccount"
	"github.com/skiff-sh/skiff/internal/controller/statefulset"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// Options tune the control plane.
type Options struct {
	// NodeMonitorGracePeriod is how long a node may miss heartbeats before it is Unknown.
	NodeMonitorGracePeriod time.Duration
	// Identity names this server in the leader-election Lease (default: hostname + pid).
	Identity string
	// ClusterCIDR is split into the nodes' pod CIDRs (default 10.42.0.0/16).
	ClusterCIDR string
}

// Run blocks until ctx ends: it campaigns for the "skiff-controller-manager" Lease in
// kube-system and runs the controllers and the scheduler while it leads.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controller client: %w", err)
	}
	if opts.Identity == "" {
		host, _ := os.Hostname()
		opts.Identity = fmt.Sprintf("%s_%d", host, os.Getpid())
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metaFor("skiff-controller-manager"),
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: opts.Identity},
	}
	// Losing the lease (another server took over, or this one stalled past the renew deadline)
	// stops the controllers; campaign again rather than leave this server without them.
	for ctx.Err() == nil {
		// OnStartedLeading runs in its own goroutine, which may outlive RunOrDie by a moment.
		runErr := make(chan error, 1)
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock: lock, ReleaseOnCancel: true, Name: "skiff-controller-manager",
			LeaseDuration: 30 * time.Second, RenewDeadline: 20 * time.Second, RetryPeriod: 2 * time.Second,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) { runErr <- runControllers(ctx, cfg, client, opts) },
				OnStoppedLeading: func() { klog.InfoS("controller manager lost leadership", "identity", opts.Identity) },
			},
		})
		select {
		case err := <-runErr:
			if err != nil {
				return err
			}
		default:
		}
	}
	return nil
}

// caBundle is the CA bundle cfg verifies the API server with (none for a
// plain-HTTP or insecure config).
func caBundle(cfg *rest.Config) ([]byte, error) {
	if len(cfg.TLSClientConfig.CAData) > 0 || cfg.TLSClientConfig.CAFile == "" {
		return cfg.TLSClientConfig.CAData, nil
	}
	data, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	return data, nil
}

func runControllers(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, opts Options) error {
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("metadata client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	type runner struct {
		name    string
		workers int
		run     func(ctx context.Context, workers int)
	}
	ipam, err := nodeipam.New(client, factory, nodeipam.Options{ClusterCIDR: opts.ClusterCIDR})
	if err != nil {
		return err
	}
	nl := nodelifecycle.New(client, factory, nodelifecycle.Options{GracePeriod: opts.NodeMonitorGracePeriod})
	sched := scheduler.New(client, factory, scheduler.Options{})
	runners := []runner{
		{"replicaset", 8, replicaset.New(client, factory).Run},
		{"replicationcontroller", 2, replicaset.NewReplicationController(client, factory).Run},
		{"deployment", 8, deployment.New(client, factory).Run},
		{"statefulset", 4, statefulset.New(client, factory).Run},
		{"daemonset", 4, daemonset.New(client, factory).Run},
		{"job", 4, job.New(client, factory).Run},
		{"cronjob", 2, cronjob.New(client, factory).Run},
		{"endpoints", 8, endpoints.New(client, factory).Run},
		{"endpointslice", 8, endpointslice.New(client, factory).Run},
		{"serviceaccount", 2, serviceaccount.New(client, factory).Run},
		{"resourcequota", 2, resourcequota.New(client, factory, resourcequota.Options{Metadata: meta, Discovery: client.Discovery()}).Run},
		{"namespace", 4, namespace.New(client, factory, namespace.Options{Metadata: meta}).Run},
		{"garbagecollector", 8, garbagecollector.New(client, factory, garbagecollector.Options{Metadata: meta}).Run},
		{"nodelifecycle", 4, nl.Run},
		{"podgc", 1, podgc.New(client, factory).Run},
		{"nodeipam", 1, ipam.Run},
		{"scheduler", 1, func(ctx context.Context, _ int) { sched.Run(ctx) }},
	}
	// The CA clients trust the API server by is what pods get as kube-root-ca.crt.
	if caPEM, err := caBundle(cfg); err != nil {
		return err
	} else if len(caPEM) > 0 {
		runners = append(runners, runner{"rootca", 2, rootca.New(client, factory, caPEM).Run})
	}
	factory.Start(ctx.Done())
	for _, r := range runners {
		r := r
		go func() {
			klog.V(1).InfoS("starting controller", "name", r.name)
			r.run(ctx, r.workers)
		}()
	}
	<-ctx.Done()
	factory.Shutdown()
	return nil
}
