// Package apiserver serves the Kubernetes REST API over skiff's store: routing, discovery,
// CRUD with optimistic concurrency, watch, patch (JSON, merge, strategic, server-side apply),
// tables, subresources and Kubernetes-style errors.
package apiserver

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/registry"
	"github.com/skiff-sh/skiff/internal/store"
)

// Config is what the API server is built from.
type Config struct {
	Resources []*registry.Resource
	Etcd      *clientv3.Client
	// ServiceCIDR is where ClusterIPs are allocated (default 10.43.0.0/16).
	ServiceCIDR *net.IPNet
	// NodePortMin and NodePortMax bound NodePort allocation (default 30000–32767).
	NodePortMin, NodePortMax int
	Version                  version.Info
	// OpenAPI serves /openapi/v2 and /openapi/v3; nil answers 404.
	OpenAPI http.Handler
	// Authenticate accepts or rejects a request; nil accepts all.
	Authenticate func(r *http.Request) (user authenticationv1.UserInfo, ok bool)
	// AuthenticateToken checks a bearer token for TokenReviews: the user, the token's
	// audiences; nil authenticates no token.
	AuthenticateToken func(token string) (user authenticationv1.UserInfo, audiences []string, ok bool)
	// CAPEM is served unauthenticated at /cacerts for joining agents.
	CAPEM []byte
	// NodeDialer, when set, is used to reach node agents for pods/log, exec, attach, portforward
	// and proxy; NodeTransport is its HTTP transport (TLS to the agents).
	NodeTransport http.RoundTripper
	// NodeToken authenticates the API server to node agents.
	NodeToken string
	// SingleWriter says this server is etcd's only writer (embedded etcd), so consistent reads
	// may be served from the watch cache.
	SingleWriter bool
	// ServiceAccountKey signs service-account tokens (serviceaccounts/token).
	ServiceAccountKey *ecdsa.PrivateKey
}

// Server is the API server's HTTP handler.
type Server struct {
	cfg      Config
	codecs   *codecs
	handlers map[schema.GroupVersionResource]*resourceHandler
	// byGR maps a group/resource to the handler of its storage version.
	byGR      map[schema.GroupResource]*resourceHandler
	discovery atomic.Pointer[discoveryDocs]
	ready     atomic.Bool
	alloc     *serviceAllocator
	// custom holds the handlers of CRD-defined resources; customMu serialises its rebuilds.
	custom   atomic.Pointer[customRoutes]
	customMu sync.Mutex
	// workers serve short resource requests on goroutines whose stacks are already grown.
	workers *workerPool
}

type groupVersions struct {
	group    string
	versions []string // preferred first
}

// maxRequestWorkers bounds the pooled request goroutines; requests beyond it run on their own.
const maxRequestWorkers = 64

// New builds the API server and starts the caches of every resource's storage.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.ServiceCIDR == nil {
		_, cfg.ServiceCIDR, _ = net.ParseCIDR("10.43.0.0/16")
	}
	if cfg.NodePortMin == 0 {
		cfg.NodePortMin, cfg.NodePortMax = 30000, 32767
	}
	c, err := newCodecs()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, codecs: c, handlers: map[schema.GroupVersionResource]*resourceHandler{}, byGR: map[schema.GroupResource]*resourceHandler{},
		workers: newWorkerPool(ctx, maxRequestWorkers)}
	s.alloc = newServiceAllocator(cfg.ServiceCIDR, cfg.NodePortMin, cfg.NodePortMax)

	storages := map[string]*store.Storage{}
	// Storage-version resources first, so converted views can share their storage.
	rs := append([]*registry.Resource(nil), cfg.Resources...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].StorageGroupVersion == nil && rs[j].StorageGroupVersion != nil })
	for _, r := range rs {
		h, err := newResourceHandler(s, r)
		if err != nil {
			return nil, err
		}
		prefix := "/registry/" + r.Resource + "/"
		if r.StorageGroupVersion != nil {
			storageGR := schema.GroupResource{Group: r.StorageGroupVersion.Group, Resource: r.Resource}
			sh := s.byGR[storageGR]
			if sh == nil {
				return nil, fmt.Errorf("resource %s: storage version %s not served", r.GVR(), r.StorageGroupVersion)
			}
			h.storage = sh.storage
			h.storageHandler = sh
			h.conv = conversionFor(r.GVK(), sh.res.GVK())
			if h.conv == nil {
				return nil, fmt.Errorf("resource %s: no conversion from %s", r.GVR(), sh.res.GVK())
			}
		} else {
			if storages[prefix] != nil {
				return nil, fmt.Errorf("two storage versions for %s", prefix)
			}
			codec := storageCodec{c: c, gvk: r.GVK(), new: r.New}
			h.storage = store.New(cfg.Etcd, prefix, r.GroupResource(), codec, historyFor(r.Resource))
			h.storage.SetSingleWriter(cfg.SingleWriter)
			storages[prefix] = h.storage
			s.byGR[r.GroupResource()] = h
		}
		s.handlers[r.GVR()] = h
	}
	for _, st := range storages {
		if err := st.Start(ctx); err != nil {
			return nil, err
		}
	}
	discovered := append(append([]*registry.Resource(nil), cfg.Resources...), ReviewResources()...)
	s.discovery.Store(buildDiscovery(groupsOf(discovered), discovered))
	go s.watchCRDs(ctx)
	return s, nil
}

// historyFor sizes a resource's watch history: busy kinds keep more events for resuming watchers.
func historyFor(resource string) int {
	switch resource {
	case "pods", "events", "leases", "endpoints", "endpointslices", "nodes", "configmaps":
		return 20000
	}
	return 2000
}

// SetReady marks the server ready once bootstrap objects exist.
func (s *Server) SetReady() { s.ready.Store(true) }

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		if rec := recover(); rec != nil {
			klog.ErrorS(fmt.Errorf("%v", rec), "panic serving request", "method", r.Method, "path", r.URL.Path)
			writeError(w, apierrors.NewInternalError(fmt.Errorf("internal error")))
		}
		if d := time.Since(start); d > time.Second && r.URL.Query().Get("watch") == "" {
			klog.V(2).InfoS("slow request", "method", r.Method, "path", r.URL.Path, "duration", d)
		}
	}()
	path := r.URL.Path
	switch {
	case path == "/healthz" || path == "/livez" || path == "/readyz" || strings.HasPrefix(path, "/healthz/") ||
		strings.HasPrefix(path, "/livez/") || strings.HasPrefix(path, "/readyz/"):
		if strings.HasPrefix(path, "/readyz") && !s.ready.Load() {
			writeRaw(w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("not ready: bootstrapping\n"))
			return
		}
		writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", []byte("ok"))
		return
	case path == "/cacerts":
		writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", s.cfg.CAPEM)
		return
	}
	if s.cfg.Authenticate != nil {
		if _, ok := s.cfg.Authenticate(r); !ok {
			writeError(w, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
	}
	switch {
	case path == "/version" || path == "/version/":
		writeJSON(w, http.StatusOK, s.cfg.Version)
	case strings.HasPrefix(path, "/openapi/"):
		if s.cfg.OpenAPI == nil {
			writeError(w, apierrors.NewNotFound(schema.GroupResource{}, path))
			return
		}
		s.cfg.OpenAPI.ServeHTTP(w, r)
	case path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/":
		s.serveRootDiscovery(w, r)
	default:
		ri, ok := parseResourcePath(r.Method, path)
		if !ok {
			if s.serveGroupDiscovery(w, r, splitPath(path)) {
				return
			}
			writeError(w, apierrors.NewNotFound(schema.GroupResource{}, path))
			return
		}
		gvr := schema.GroupVersionResource{Group: ri.group, Version: ri.version, Resource: ri.resource}
		h := s.handlers[gvr]
		if h == nil {
			h = s.customHandler(gvr)
		}
		if h == nil {
			if rv := findReview(gvr); rv != nil {
				s.serveReview(w, r, rv, ri)
				return
			}
			if ri.verb == "list" && ri.name == "" && s.serveGroupDiscovery(w, r, splitPath(path)) {
				return
			}
			writeError(w, &apierrors.StatusError{ErrStatus: notFoundStatus(fmt.Sprintf("the server could not find the requested resource (%s %s)", strings.ToLower(r.Method), path))})
			return
		}
		h.serve(w, r, ri)
	}
}
