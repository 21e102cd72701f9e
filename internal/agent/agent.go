// Package agent is skiff's node agent (the kubelet): it registers the
// machine as a Node, heartbeats through a Lease, runs the pods bound to the
// node as containers through CRI on its own (or a given) containerd, and
// serves their logs, exec, attach and port-forward to the API server.
package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when SKIFF_AGENT_PPROF_ADDR is set
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/cni"
	"github.com/skiff-sh/skiff/internal/agent/containerd"
	"github.com/skiff-sh/skiff/internal/agent/cri"
	"github.com/skiff-sh/skiff/internal/agent/images"
	"github.com/skiff-sh/skiff/internal/agent/podworker"
	"github.com/skiff-sh/skiff/internal/agent/server"
	"github.com/skiff-sh/skiff/internal/agent/volume"
	"github.com/skiff-sh/skiff/internal/pki"
)

// Options configure an agent. Zero values take the documented defaults.
type Options struct {
	// ServerURL and Token join a remote server (pki.RESTConfigFromToken);
	// ignored when RESTConfig is set.
	ServerURL string
	Token     string
	// RESTConfig is the API client config when the agent runs inside
	// `skiff server`.
	RESTConfig *rest.Config
	// DataDir holds containerd, pod volumes, logs and the auto-import
	// folder (default /var/lib/skiff/agent).
	DataDir string
	// NodeName defaults to the hostname.
	NodeName string
	// NodeIP defaults to the IPv4 address of the default route's interface.
	NodeIP string
	// ContainerRuntimeEndpoint names an existing CRI socket; empty starts
	// the agent's own containerd. With an existing runtime the pod network
	// config goes to /etc/cni/net.d, where containerd reads it by default.
	ContainerRuntimeEndpoint string
	// ListenPort is the agent's HTTPS port for logs/exec/attach/port-forward (default 10250).
	ListenPort int
	// Labels and Taints are set on the Node at registration.
	Labels map[string]string
	Taints []v1.Taint
	// ClusterDNS is the cluster DNS service IP pods use (default 10.43.0.10).
	ClusterDNS string
	// ClusterDomain defaults to cluster.local.
	ClusterDomain string
	// ClusterCIDR covers all nodes' pod CIDRs (default 10.42.0.0/16): pod
	// traffic leaving it is masqueraded.
	ClusterCIDR string
	// BridgeName is the pod network's Linux bridge (default skiff0).
	BridgeName string
	// Log defaults to slog.Default().
	Log *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.DataDir == "" {
		o.DataDir = "/var/lib/skiff/agent"
	}
	if o.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("hostname: %w", err)
		}
		o.NodeName = strings.ToLower(h)
	}
	if o.NodeIP == "" {
		ip, err := defaultNodeIP()
		if err != nil {
			return err
		}
		o.NodeIP = ip
	}
	if o.ListenPort == 0 {
		o.ListenPort = 10250
	}
	if o.ClusterDNS == "" {
		o.ClusterDNS = "10.43.0.10"
	}
	if o.ClusterDomain == "" {
		o.ClusterDomain = "cluster.local"
	}
	if o.ClusterCIDR == "" {
		o.ClusterCIDR = cni.DefaultClusterCIDR
	}
	if o.BridgeName == "" {
		o.BridgeName = cni.DefaultBridge
	}
	if len(o.BridgeName) > 15 { // IFNAMSIZ less the terminating NUL
		return fmt.Errorf("pod bridge %q: a Linux interface name has at most 15 characters", o.BridgeName)
	}
	if _, cidr, err := net.ParseCIDR(o.ClusterCIDR); err != nil || cidr.IP.To4() == nil {
		return fmt.Errorf("cluster CIDR %q: want an IPv4 CIDR", o.ClusterCIDR)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return nil
}

// Agent is a running node agent.
type Agent struct {
	opts     Options
	log      *slog.Logger
	client   kubernetes.Interface
	hostname string
	machine  machine

	networkReady atomic.Bool
	runtimeDown  atomic.Bool
	statusKick   chan struct{}
}

// Run runs the agent until ctx ends. Pods keep running after it returns:
// a restarted agent adopts them.
func Run(ctx context.Context, opts Options) error {
	if err := opts.setDefaults(); err != nil {
		return err
	}
	if addr := os.Getenv("SKIFF_AGENT_PPROF_ADDR"); addr != "" {
		// Profiling is opt-in and bound where the operator says (e.g. 127.0.0.1:6061);
		// a variable of its own, as a server and an agent may run side by side.
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
	log := opts.Log.With("component", "agent")
	a := &Agent{opts: opts, log: log, statusKick: make(chan struct{}, 1)}
	// Everything the agent starts (containerd included) stops when Run returns.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Bind the agent's port first: a port in use fails before any work.
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(opts.ListenPort)))
	if err != nil {
		return fmt.Errorf("agent port: %w", err)
	}
	defer ln.Close()
	a.hostname, _ = os.Hostname()

	cfg := opts.RESTConfig
	if cfg == nil {
		if cfg, err = pki.RESTConfigFromToken(ctx, opts.ServerURL, opts.Token); err != nil {
			return fmt.Errorf("join %s: %w", opts.ServerURL, err)
		}
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS >= 0 {
		// Pod starts write status at once; client-go's default 5 QPS would queue them.
		cfg.QPS, cfg.Burst = 100, 200
	}
	cfg.UserAgent = "skiff-agent/" + opts.NodeName
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("API client: %w", err)
	}
	a.client = client

	for _, dir := range []string{opts.DataDir, a.podsDir(), a.logsDir(), images.AutoImportDir(opts.DataDir)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}

	// The runtime: our own containerd unless an endpoint is given.
	endpoint := opts.ContainerRuntimeEndpoint
	cniBin, err := cni.FindPluginDir()
	if err != nil {
		return err
	}
	cniConfDir := filepath.Join(opts.DataDir, "cni", "net.d")
	if endpoint != "" {
		// An existing runtime reads its own CNI folder: containerd's default.
		cniConfDir = "/etc/cni/net.d"
	}
	var daemon *containerd.Daemon
	defer func() {
		if daemon != nil {
			cancel()
			select {
			case <-daemon.Done():
			case <-time.After(15 * time.Second):
			}
		}
	}()
	if endpoint == "" {
		daemon, err = containerd.Start(ctx, containerd.Config{
			Dir:          filepath.Join(opts.DataDir, "containerd"),
			SandboxImage: images.PauseImage,
			CNIBinDir:    cniBin,
			CNIConfDir:   cniConfDir,
		}, log)
		if err != nil {
			return err
		}
		endpoint = daemon.Address()
	}
	rt, err := cri.Dial(ctx, endpoint)
	if err != nil {
		return err
	}
	defer rt.Close()
	version, err := rt.Version(ctx, &criapi.VersionRequest{})
	if err != nil {
		return fmt.Errorf("runtime version: %w", err)
	}
	a.machine = readMachine(opts.DataDir, version.RuntimeName+"://"+version.RuntimeVersion)
	if err := a.prepareImages(ctx, endpoint, daemon != nil); err != nil {
		return err
	}

	// Register, then wait for the pod network's CIDR.
	node, err := a.register(ctx)
	if err != nil {
		return fmt.Errorf("register node %s: %w", opts.NodeName, err)
	}
	log.Info("node registered", "node", opts.NodeName, "ip", opts.NodeIP)
	go heartbeat(ctx, client, node, log)
	go a.reportStatus(ctx)
	podCIDR, err := a.waitPodCIDR(ctx)
	if err != nil {
		return err
	}
	ipamDir := filepath.Join(opts.DataDir, "cni", "networks")
	if err := cni.Write(cniConfDir, cni.Config{NetworkName: "skiff", Bridge: opts.BridgeName, PodCIDR: podCIDR, IPAMDataDir: ipamDir}); err != nil {
		return err
	}
	if err := cni.ResetBridge(opts.BridgeName, podCIDR); err != nil {
		return err
	}
	if err := cni.SetupHost(podCIDR, opts.ClusterCIDR, opts.BridgeName); err != nil {
		return err
	}
	a.networkReady.Store(true)
	a.kickStatus()
	log.Info("pod network ready", "podCIDR", podCIDR)

	// Informers: the node's pods, and what their env and volumes read.
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0)
	podFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", opts.NodeName).String()
	}))
	podInformer := podFactory.Core().V1().Pods()
	cmInformer := factory.Core().V1().ConfigMaps()
	secretInformer := factory.Core().V1().Secrets()
	svcInformer := factory.Core().V1().Services()
	src := &sources{client: client, configMaps: cmInformer.Lister(), secrets: secretInformer.Lister(), services: svcInformer.Lister()}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: opts.NodeName})

	vols := &volume.Manager{Dir: a.podsDir(), Sources: src, Client: client, RootCA: cfg.CAData}
	hostDNS := readResolvConf("/etc/resolv.conf")
	pods := podworker.New(podworker.Config{
		NodeName:      opts.NodeName,
		Runtime:       rt,
		Client:        client,
		Sources:       src,
		Volumes:       vols,
		Recorder:      recorder,
		Log:           log,
		LogRoot:       a.logsDir(),
		IPAMDir:       ipamDir,
		ClusterDomain: opts.ClusterDomain,
		DNS: podworker.DNS{
			Servers:       []string{opts.ClusterDNS},
			ClusterDomain: opts.ClusterDomain,
			HostServers:   hostDNS.servers,
			HostSearches:  hostDNS.searches,
			HostOptions:   hostDNS.options,
		},
		HostIPs:     []string{opts.NodeIP},
		Allocatable: a.machine.capacity(),
	})

	_, _ = podInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { pods.Update(obj.(*v1.Pod)) },
		UpdateFunc: func(_, obj any) { pods.Update(obj.(*v1.Pod)) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if pod, ok := obj.(*v1.Pod); ok {
				pods.Remove(pod)
			}
		},
	})
	configHandler := func(kind string) cache.ResourceEventHandler {
		notify := func(obj any) {
			if m, err := metaOf(obj); err == nil {
				pods.NotifyConfig(kind, m.GetNamespace(), m.GetName())
			}
		}
		return cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) { notify(obj) }, AddFunc: notify, DeleteFunc: notify}
	}
	_, _ = cmInformer.Informer().AddEventHandler(configHandler("configmap"))
	_, _ = secretInformer.Informer().AddEventHandler(configHandler("secret"))

	factory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	podFactory.WaitForCacheSync(ctx.Done())
	pods.SetSynced()
	go pods.Run(ctx)
	go a.watchRuntime(ctx, rt)

	srv, err := server.New(server.Config{
		DataDir:  opts.DataDir,
		Port:     opts.ListenPort,
		NodeName: opts.NodeName,
		NodeIP:   opts.NodeIP,
		Token:    serverToken(opts, cfg),
		Runtime:  rt,
		Pods:     podInformer.Lister(),
		Log:      log,
		Listener: ln,
	})
	if err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx) }()

	log.Info("agent running", "node", opts.NodeName, "runtime", a.machine.runtimeVersion, "port", opts.ListenPort)
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("agent server: %w", err)
		}
	}
	return nil
}

// serverToken is the bearer token the agent's server accepts: the join
// token (which the API server also holds), or the in-process config's token.
func serverToken(opts Options, cfg *rest.Config) string {
	if opts.Token != "" {
		return strings.TrimSpace(opts.Token)
	}
	return cfg.BearerToken
}

func (a *Agent) podsDir() string { return filepath.Join(a.opts.DataDir, "pods") }
func (a *Agent) logsDir() string { return filepath.Join(a.opts.DataDir, "logs") }

func (a *Agent) kickStatus() {
	select {
	case a.statusKick <- struct{}{}:
	default:
	}
}

// prepareImages imports the pause image and the auto-import folder into
// the runtime's containerd (when the runtime is a containerd).
func (a *Agent) prepareImages(ctx context.Context, endpoint string, own bool) error {
	store, err := images.Open(ctx, strings.TrimPrefix(endpoint, "unix://"))
	if err != nil {
		if own {
			return err
		}
		a.log.Warn("runtime is not a containerd: the pause image and auto-import folder are skipped", "err", err)
		return nil
	}
	defer store.Close()
	if err := store.EnsurePause(ctx, images.PauseImage); err != nil {
		if own {
			return err
		}
		a.log.Warn("import pause image", "err", err)
	}
	names, err := store.ImportDir(ctx, images.AutoImportDir(a.opts.DataDir))
	if len(names) > 0 {
		a.log.Info("imported images", "images", names)
	}
	if err != nil {
		a.log.Warn("auto-import images", "err", err)
	}
	return nil
}

// watchRuntime marks the node not ready while the runtime does not answer.
func (a *Agent) watchRuntime(ctx context.Context, rt *cri.Client) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := rt.Status(sctx, &criapi.StatusRequest{})
		cancel()
		down := err != nil
		if a.runtimeDown.Swap(down) != down {
			a.kickStatus()
		}
	}
}

// sources serves ConfigMaps, Secrets and Services from informers, falling
// back to the API for objects created a moment ago.
type sources struct {
	client     kubernetes.Interface
	configMaps corelisters.ConfigMapLister
	secrets    corelisters.SecretLister
	services   corelisters.ServiceLister
}

// lookupTimeout bounds the API fallback of a cache miss.
const lookupTimeout = 10 * time.Second

func (s *sources) ConfigMap(ns, name string) (*v1.ConfigMap, error) {
	cm, err := s.configMaps.ConfigMaps(ns).Get(name)
	if apierrors.IsNotFound(err) {
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		defer cancel()
		return s.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	}
	return cm, err
}

func (s *sources) Secret(ns, name string) (*v1.Secret, error) {
	sec, err := s.secrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
		defer cancel()
		return s.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	}
	return sec, err
}

func (s *sources) Services(ns string) ([]*v1.Service, error) {
	return s.services.Services(ns).List(labels.Everything())
}

func metaOf(obj any) (metav1.Object, error) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("not an object: %T", obj)
	}
	return m, nil
}

type resolvConf struct {
	servers, searches, options []string
}

func readResolvConf(path string) resolvConf {
	var rc resolvConf
	data, err := os.ReadFile(path)
	if err != nil {
		return rc
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "nameserver":
			rc.servers = append(rc.servers, f[1])
		case "search":
			rc.searches = f[1:]
		case "options":
			rc.options = f[1:]
		}
	}
	return rc
}
