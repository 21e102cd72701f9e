// Package server assembles `skiff server`: embedded etcd, the API server over TLS, the
// bootstrap objects, and the in-process control-plane components.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // served only when SKIFF_PPROF_ADDR is set
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/procmem"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/etcd"
	"github.com/skiff-sh/skiff/internal/inprocess"
	"github.com/skiff-sh/skiff/internal/openapi"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/registry"
)

// Version is the Kubernetes version skiff reports.
const Version = "v1.37.2"

// VersionMajor and VersionMinor are Version's first two numbers, as /version reports them.
const (
	VersionMajor = "1"
	VersionMinor = "37"
)

// Options configure `skiff server`.
type Options struct {
	DataDir           string
	BindAddress       string
	HTTPSPort         int
	DatastoreEndpoint []string
	// AdvertiseAddress is the address agents and the kubernetes Service use; default: the first
	// non-loopback IPv4 address, else 127.0.0.1.
	AdvertiseAddress string
	// Components run in the server process once the API is ready (controllers, scheduler, agent).
	Components []Component
}

// Component is an in-process part of the control plane, given an unthrottled loopback client.
type Component struct {
	Name string
	Run  func(ctx context.Context, env Env) error
}

// Env is what a component gets from the server.
type Env struct {
	Config   *rest.Config
	DataDir  string
	Token    string
	URL      string
	HostIP   string
	Bundle   *pki.Bundle
	ServerOK <-chan struct{}
}

// Run starts the server and blocks until ctx ends or serving fails.
func Run(ctx context.Context, opts Options) error {
	started := time.Now()
	if addr := os.Getenv("SKIFF_PPROF_ADDR"); addr != "" {
		// Profiling is opt-in and bound where the operator says (e.g. 127.0.0.1:6060).
		go func() { _ = http.ListenAndServe(addr, nil) }()
	}
	if opts.DataDir == "" {
		opts.DataDir = "/var/lib/skiff"
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = 6443
	}
	if opts.BindAddress == "" {
		opts.BindAddress = "0.0.0.0"
	}
	if opts.AdvertiseAddress == "" {
		opts.AdvertiseAddress = HostIP()
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	hostname, _ := os.Hostname()
	bundle, err := pki.Ensure(filepath.Join(opts.DataDir, "tls"), []string{opts.AdvertiseAddress, hostname, "10.43.0.1"})
	if err != nil {
		return err
	}
	backend, err := etcd.Start(ctx, filepath.Join(opts.DataDir, "etcd"), opts.DatastoreEndpoint)
	if err != nil {
		return err
	}
	defer backend.Close()

	resources := registry.Builtin()
	docs, err := openapi.Build(append(append([]*registry.Resource(nil), resources...), apiserver.ReviewResources()...), Version)
	if err != nil {
		return fmt.Errorf("build OpenAPI documents: %w", err)
	}
	auth := &apiserver.Authenticator{CAPool: bundle.CAPool(), Token: bundle.Token, SAKey: bundle.ServiceAccountKey}
	api, err := apiserver.New(ctx, apiserver.Config{
		Resources: resources, Etcd: backend.Client, Version: versionInfo(), OpenAPI: docs, Authenticate: auth.Authenticate, AuthenticateToken: auth.AuthenticateToken,
		SingleWriter: len(opts.DatastoreEndpoint) == 0,
		CAPEM:        bundle.CAPEM, NodeToken: bundle.Token, ServiceAccountKey: bundle.ServiceAccountKey,
		NodeTransport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // like kube-apiserver without --kubelet-certificate-authority
			ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 16},
	})
	if err != nil {
		return err
	}

	addr := net.JoinHostPort(opts.BindAddress, strconv.Itoa(opts.HTTPSPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler: api,
		TLSConfig: withProtocolChoice(&tls.Config{Certificates: []tls.Certificate{bundle.ServingTLS}, ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs: bundle.CAPool(), MinVersion: tls.VersionTLS12}),
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          nil,
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	localURL := "https://" + net.JoinHostPort(loopbackFor(opts.BindAddress), strconv.Itoa(opts.HTTPSPort))
	kubeconfig := filepath.Join(opts.DataDir, "kubeconfig.yaml")
	if err := bundle.WriteAdminKubeconfig(kubeconfig, localURL); err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("load admin kubeconfig: %w", err)
	}
	// In-process components are not throttled (client-go's default is 5 requests/s).
	cfg.QPS, cfg.Burst = -1, 1000
	cfg.UserAgent = "skiff-server"
	// Protobuf bodies decode several times faster than JSON on both ends.
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	if err := serveInProcess(cfg, api); err != nil {
		return err
	}
	if err := bootstrap(ctx, cfg, opts); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	api.SetReady()
	fmt.Printf("skiff server ready at %s (kubeconfig %s) in %.2fs\n", localURL, kubeconfig, time.Since(started).Seconds())

	env := Env{Config: cfg, DataDir: opts.DataDir, Token: bundle.Token, URL: "https://" + net.JoinHostPort(opts.AdvertiseAddress, strconv.Itoa(opts.HTTPSPort)),
		HostIP: opts.AdvertiseAddress, Bundle: bundle}
	go procmem.SettleAfter(ctx, 3*time.Second, klog.Warningf)
	compErr := make(chan error, len(opts.Components))
	var components sync.WaitGroup
	for _, c := range opts.Components {
		c := c
		components.Go(func() {
			if err := c.Run(ctx, env); err != nil && ctx.Err() == nil {
				compErr <- fmt.Errorf("%s: %w", c.Name, err)
			}
		})
	}
	select {
	case <-ctx.Done():
		// Let the components finish their goodbyes through the still-open API
		// (the controller manager hands back its leader lease, so the next
		// server starts its controllers at once instead of after the lease
		// runs out), for a few seconds at most.
		stopped := make(chan struct{})
		go func() { components.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(componentStopTimeout):
		}
		return nil
	case err := <-compErr:
		return err
	case err := <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	}
}

// serveInProcess makes cfg's clients hand their requests to api in memory
// (internal/inprocess) instead of over TLS through the loopback device. They
// authenticate as cfg's client certificate would: the handler sees the
// connection state of a TLS connection that presented it. cfg keeps its TLS
// settings, which components read (the controller manager publishes its CA).
func serveInProcess(cfg *rest.Config, api http.Handler) error {
	block, _ := pem.Decode(cfg.TLSClientConfig.CertData)
	if block == nil {
		return fmt.Errorf("in-process clients: the admin kubeconfig has no client certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("in-process clients: parse the admin certificate: %w", err)
	}
	state := &tls.ConnectionState{Version: tls.VersionTLS13, HandshakeComplete: true,
		PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}
	transport := &inprocess.Transport{Handler: api, TLS: state}
	cfg.WrapTransport = func(http.RoundTripper) http.RoundTripper { return transport }
	return nil
}

// componentStopTimeout bounds how long a stopping server waits for its
// components after its context ends.
const componentStopTimeout = 5 * time.Second

// withProtocolChoice sets the server's ALPN preference: HTTP/1.1 first, HTTP/2 first for skiff's
// own multiplexing clients (pki.MultiplexServerName). Go's HTTP/2 server spends on every
// response a goroutine (with a stack to grow) for the write, HPACK, frame scheduling and a TLS
// record per frame; over HTTP/1.1 a request/response costs about a third less server CPU
// (bench/apiserver: creates ~1.8k -> ~2.4k/s, GET p50 ~1.0 -> ~0.6 ms). kubectl and client-go
// speak both and take the server's choice. Clients that burst hundreds of concurrent requests
// (the ReplicaSet controller's slow start, the scheduler, simulated nodes) would open a
// connection each over HTTP/1.1, so they ask for HTTP/2 by name.
func withProtocolChoice(base *tls.Config) *tls.Config {
	base.NextProtos = []string{"http/1.1", "h2"}
	h2First := base.Clone() // cloned before GetConfigForClient is set: it does not choose again
	h2First.NextProtos = []string{"h2", "http/1.1"}
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if hello.ServerName == pki.MultiplexServerName {
			return h2First, nil
		}
		return nil, nil // base as it is
	}
	return base
}

func loopbackFor(bind string) string {
	if bind == "0.0.0.0" || bind == "" || bind == "::" {
		return "127.0.0.1"
	}
	return bind
}

func versionInfo() version.Info {
	return version.Info{Major: VersionMajor, Minor: VersionMinor, GitVersion: Version + "+skiff", GitTreeState: "clean",
		Platform: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(), Compiler: runtime.Compiler}
}

// HostIP returns the machine's first non-loopback IPv4 address, or 127.0.0.1.
func HostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
				return ipn.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// bootstrap creates the objects every cluster starts with; existing ones are left alone.
func bootstrap(ctx context.Context, cfg *rest.Config, opts Options) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	for _, pc := range registry.SystemPriorityClasses() {
		if _, err := cs.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create priority class %s: %w", pc.Name, err)
		}
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(int32(opts.HTTPSPort))}}},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes service: %w", err)
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default", Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: opts.AdvertiseAddress}},
			Ports: []corev1.EndpointPort{{Name: "https", Port: int32(opts.HTTPSPort), Protocol: corev1.ProtocolTCP}}}},
	}
	if ip := net.ParseIP(opts.AdvertiseAddress); ip == nil || ip.IsLoopback() {
		// Endpoints may not hold loopback addresses; pods could not reach it anyway.
		klog.InfoS("not publishing kubernetes endpoints for a loopback advertise address", "address", opts.AdvertiseAddress)
		return nil
	}
	if cur, err := cs.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{}); err == nil {
		ep.ResourceVersion = cur.ResourceVersion
		_, err = cs.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{})
		if err != nil {
			klog.ErrorS(err, "update kubernetes endpoints")
		}
	} else if _, err := cs.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create kubernetes endpoints: %w", err)
	}
	return nil
}
