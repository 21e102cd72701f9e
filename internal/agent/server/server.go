// Package server is the agent's HTTPS API, the counterpart of the kubelet's
// port 10250: container logs, and exec, attach and port-forward proxied to
// the container runtime's streaming server. The API server reaches it for
// pods/log, pods/exec, pods/attach and pods/portforward.
package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/cri"
	"github.com/skiff-sh/skiff/internal/agent/logs"
)

// Config wires the server.
type Config struct {
	DataDir  string // holds the serving certificate
	Port     int
	NodeName string
	NodeIP   string
	// Token is the bearer token callers must present (the cluster's join token).
	Token   string
	Runtime *cri.Client
	Pods    corelisters.PodLister
	Log     *slog.Logger
	// Listener, when set, is the already bound port (else Serve binds Port).
	Listener net.Listener
}

// Server serves the agent API.
type Server struct {
	cfg Config
	srv *http.Server
}

// New prepares the server and its certificate.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cert, err := servingCert(filepath.Join(cfg.DataDir, "tls"), cfg.NodeName, cfg.NodeIP)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.auth(s.containerLogs))
	mux.HandleFunc("/exec/{namespace}/{pod}/{container}", s.auth(s.exec))
	mux.HandleFunc("/attach/{namespace}/{pod}/{container}", s.auth(s.attach))
	mux.HandleFunc("/portForward/{namespace}/{pod}", s.auth(s.portForward))
	// The upstream kubelet also accepts the pod UID as a fourth path element.
	mux.HandleFunc("/exec/{namespace}/{pod}/{uid}/{container}", s.auth(s.exec))
	mux.HandleFunc("/attach/{namespace}/{pod}/{uid}/{container}", s.auth(s.attach))
	mux.HandleFunc("/portForward/{namespace}/{pod}/{uid}", s.auth(s.portForward))
	s.srv = &http.Server{
		Addr:              net.JoinHostPort("", strconv.Itoa(cfg.Port)),
		Handler:           mux,
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
		// HTTP/1.1 only: upgraded streams (SPDY, WebSocket) need it.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	return s, nil
}

// Serve serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.srv.Addr); err != nil {
			return fmt.Errorf("listen on %s: %w", s.srv.Addr, err)
		}
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
	}()
	err := s.srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || s.cfg.Token == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.cfg.Token)) != 1 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		h(w, r)
	}
}

// findContainer resolves namespace/pod/container to a runtime container:
// the newest run, or the one before it for previous.
func (s *Server) findContainer(ctx context.Context, ns, podName, container string, previous bool) (*v1.Pod, *criapi.ContainerStatus, int, error) {
	pod, err := s.cfg.Pods.Pods(ns).Get(podName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, http.StatusNotFound, fmt.Errorf("pod %s/%s not found on node %s", ns, podName, s.cfg.NodeName)
		}
		return nil, nil, http.StatusInternalServerError, err
	}
	if container == "" {
		if len(pod.Spec.Containers) != 1 {
			return nil, nil, http.StatusBadRequest, fmt.Errorf("a container name must be specified for pod %s", podName)
		}
		container = pod.Spec.Containers[0].Name
	}
	resp, err := s.cfg.Runtime.ListContainers(ctx, &criapi.ListContainersRequest{Filter: &criapi.ContainerFilter{LabelSelector: map[string]string{
		"io.kubernetes.pod.uid":        string(pod.UID),
		"io.kubernetes.container.name": container,
	}}})
	if err != nil {
		return nil, nil, http.StatusInternalServerError, fmt.Errorf("list containers: %w", err)
	}
	var statuses []*criapi.ContainerStatus
	for _, c := range resp.Containers {
		st, err := s.cfg.Runtime.ContainerStatus(ctx, &criapi.ContainerStatusRequest{ContainerId: c.Id})
		if err == nil {
			statuses = append(statuses, st.Status)
		}
	}
	restarts := func(st *criapi.ContainerStatus) int {
		n, err := strconv.Atoi(st.Annotations["io.kubernetes.container.restartCount"])
		if err != nil && st.Metadata != nil {
			return int(st.Metadata.Attempt)
		}
		return n
	}
	// Newest first.
	for i := 1; i < len(statuses); i++ {
		for j := i; j > 0 && (restarts(statuses[j]) > restarts(statuses[j-1]) ||
			(restarts(statuses[j]) == restarts(statuses[j-1]) && statuses[j].CreatedAt > statuses[j-1].CreatedAt)); j-- {
			statuses[j], statuses[j-1] = statuses[j-1], statuses[j]
		}
	}
	idx := 0
	if previous {
		idx = 1
	}
	if len(statuses) <= idx {
		if previous {
			return nil, nil, http.StatusBadRequest, fmt.Errorf("previous terminated container %q in pod %q not found", container, podName)
		}
		known := false
		for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
			known = known || c.Name == container
		}
		if !known {
			return nil, nil, http.StatusBadRequest, fmt.Errorf("container %s is not valid for pod %s", container, podName)
		}
		return nil, nil, http.StatusBadRequest, fmt.Errorf("container %q in pod %q is waiting to start: ContainerCreating", container, podName)
	}
	return pod, statuses[idx], 0, nil
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, st, code, err := s.findContainer(r.Context(), r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"), boolParam(q, "previous"))
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	o := logs.Options{Follow: boolParam(q, "follow"), Timestamps: boolParam(q, "timestamps")}
	if v := q.Get("tailLines"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			http.Error(w, "invalid tailLines", http.StatusBadRequest)
			return
		}
		o.TailLines = &n
	}
	if v := q.Get("limitBytes"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "invalid limitBytes", http.StatusBadRequest)
			return
		}
		o.LimitBytes = &n
	}
	if v := q.Get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			http.Error(w, "invalid sinceSeconds", http.StatusBadRequest)
			return
		}
		o.Since = time.Now().Add(-time.Duration(n) * time.Second)
	}
	if v := q.Get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			http.Error(w, "invalid sinceTime", http.StatusBadRequest)
			return
		}
		o.Since = t
	}
	id := st.Id
	running := func() bool {
		resp, err := s.cfg.Runtime.ContainerStatus(r.Context(), &criapi.ContainerStatusRequest{ContainerId: id})
		return err == nil && resp.Status.State == criapi.ContainerState_CONTAINER_RUNNING
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	fw := &flushWriter{w: w}
	if f, ok := w.(http.Flusher); ok {
		fw.f = f
	}
	if err := logs.Write(r.Context(), fw, st.LogPath, o, running); err != nil {
		s.cfg.Log.Warn("serve logs", "err", err)
	}
}

type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (f *flushWriter) Write(b []byte) (int, error) { return f.w.Write(b) }
func (f *flushWriter) Flush() {
	if f.f != nil {
		f.f.Flush()
	}
}

func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, st, code, err := s.findContainer(r.Context(), r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	cmd := q["command"]
	if len(cmd) == 0 {
		cmd = q["cmd"]
	}
	if len(cmd) == 0 {
		http.Error(w, "missing command", http.StatusBadRequest)
		return
	}
	o := parseStreamOptions(q)
	resp, err := s.cfg.Runtime.Exec(r.Context(), &criapi.ExecRequest{
		ContainerId: st.Id, Cmd: cmd, Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr,
	})
	if err != nil {
		http.Error(w, fmt.Sprintf("exec: %v", err), http.StatusInternalServerError)
		return
	}
	if wantsRemoteCommandWebSocket(r) {
		s.translateRemoteCommand(w, r, resp.Url, o)
		return
	}
	s.proxyStream(w, r, resp.Url)
}

func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	_, st, code, err := s.findContainer(r.Context(), r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		http.Error(w, err.Error(), code)
		return
	}
	o := parseStreamOptions(q)
	resp, err := s.cfg.Runtime.Attach(r.Context(), &criapi.AttachRequest{
		ContainerId: st.Id, Tty: o.tty, Stdin: o.stdin, Stdout: o.stdout, Stderr: o.stderr,
	})
	if err != nil {
		http.Error(w, fmt.Sprintf("attach: %v", err), http.StatusInternalServerError)
		return
	}
	if wantsRemoteCommandWebSocket(r) {
		s.translateRemoteCommand(w, r, resp.Url, o)
		return
	}
	s.proxyStream(w, r, resp.Url)
}

func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pod, err := s.cfg.Pods.Pods(r.PathValue("namespace")).Get(r.PathValue("pod"))
	if err != nil {
		http.Error(w, fmt.Sprintf("pod %s/%s not found on node %s", r.PathValue("namespace"), r.PathValue("pod"), s.cfg.NodeName), http.StatusNotFound)
		return
	}
	sbs, err := s.cfg.Runtime.ListPodSandbox(r.Context(), &criapi.ListPodSandboxRequest{Filter: &criapi.PodSandboxFilter{
		State:         &criapi.PodSandboxStateValue{State: criapi.PodSandboxState_SANDBOX_READY},
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(pod.UID)},
	}})
	if err != nil || len(sbs.Items) == 0 {
		http.Error(w, fmt.Sprintf("pod %s has no running sandbox", pod.Name), http.StatusBadRequest)
		return
	}
	var ports []int32
	for _, p := range r.URL.Query()["port"] {
		for _, part := range strings.Split(p, ",") {
			if n, err := strconv.Atoi(part); err == nil {
				ports = append(ports, int32(n))
			}
		}
	}
	resp, err := s.cfg.Runtime.PortForward(r.Context(), &criapi.PortForwardRequest{PodSandboxId: sbs.Items[0].Id, Port: ports})
	if err != nil {
		http.Error(w, fmt.Sprintf("port-forward: %v", err), http.StatusInternalServerError)
		return
	}
	if wantsTunnel(r) {
		s.tunnelPortForward(w, r, resp.Url)
		return
	}
	s.proxyStream(w, r, resp.Url)
}

// proxyStream forwards an upgrade request (SPDY or WebSocket) to the
// runtime's streaming URL and then copies bytes both ways until either side
// closes, as the kubelet's upgrade-aware proxy does.
func (s *Server) proxyStream(w http.ResponseWriter, r *http.Request, target string) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime stream URL: %v", err), http.StatusInternalServerError)
		return
	}
	if u.RawQuery == "" {
		u.RawQuery = r.URL.RawQuery
	}
	backend, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		http.Error(w, fmt.Sprintf("dial runtime stream server: %v", err), http.StatusBadGateway)
		return
	}
	defer backend.Close()
	out := r.Clone(r.Context())
	out.URL = u
	out.Host = u.Host
	out.RequestURI = ""
	if err := out.Write(backend); err != nil {
		http.Error(w, fmt.Sprintf("forward stream request: %v", err), http.StatusBadGateway)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "streaming not supported", http.StatusInternalServerError)
		return
	}
	client, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(backend, readerWithBuffer(buf.Reader, client))
		if c, ok := backend.(*net.TCPConn); ok {
			_ = c.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, backend)
		done <- struct{}{}
	}()
	<-done
}

func readerWithBuffer(buf *bufio.Reader, conn net.Conn) io.Reader {
	if buf != nil && buf.Buffered() > 0 {
		return io.MultiReader(io.LimitReader(buf, int64(buf.Buffered())), conn)
	}
	return conn
}

// parseStreamOptions reads the stdio flags kubectl sends (stdin/stdout/
// stderr/tty, or the older input/output/error).
func parseStreamOptions(q url.Values) streamOptions {
	return streamOptions{
		stdin:  boolParam(q, "input") || boolParam(q, "stdin"),
		stdout: boolParam(q, "output") || boolParam(q, "stdout"),
		stderr: boolParam(q, "error") || boolParam(q, "stderr"),
		tty:    boolParam(q, "tty"),
	}
}

func boolParam(q url.Values, name string) bool {
	v := q.Get(name)
	if v == "" {
		_, present := q[name]
		return present && name == "follow"
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// servingCert loads (or makes) the agent's self-signed serving certificate.
func servingCert(dir, nodeName, nodeIP string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	if cert, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && time.Now().Before(leaf.NotAfter.Add(-24*time.Hour)) {
			return cert, nil
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate agent key: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeName + "@skiff-agent"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{nodeName, "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ip := net.ParseIP(nodeIP); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create agent certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("marshal agent key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("create %s: %w", dir, err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("write agent certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("write agent key: %w", err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
