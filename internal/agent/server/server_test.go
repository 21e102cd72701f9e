package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	utilexec "k8s.io/client-go/util/exec"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/cri"
)

// fakeRuntime serves the CRI calls the log endpoint makes; other calls panic
// (the embedded interface is nil).
type fakeRuntime struct {
	criapi.RuntimeServiceClient
	containers []*criapi.ContainerStatus
}

func (f *fakeRuntime) ListContainers(_ context.Context, req *criapi.ListContainersRequest, _ ...grpc.CallOption) (*criapi.ListContainersResponse, error) {
	var out []*criapi.Container
	for _, c := range f.containers {
		match := true
		for k, v := range req.GetFilter().GetLabelSelector() {
			match = match && c.Labels[k] == v
		}
		if match {
			out = append(out, &criapi.Container{Id: c.Id, Labels: c.Labels, State: c.State})
		}
	}
	return &criapi.ListContainersResponse{Containers: out}, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, req *criapi.ContainerStatusRequest, _ ...grpc.CallOption) (*criapi.ContainerStatusResponse, error) {
	for _, c := range f.containers {
		if c.Id == req.ContainerId {
			return &criapi.ContainerStatusResponse{Status: c}, nil
		}
	}
	return nil, errors.New("not found")
}

func logLine(s string) string { return "2024-05-01T10:00:00.000000000Z stdout F " + s + "\n" }

func startServer(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	labels := map[string]string{"io.kubernetes.pod.uid": "uid-1", "io.kubernetes.container.name": "app"}
	rt := &fakeRuntime{containers: []*criapi.ContainerStatus{
		{Id: "old", Labels: labels, Annotations: map[string]string{"io.kubernetes.container.restartCount": "0"}, State: criapi.ContainerState_CONTAINER_EXITED, LogPath: write("0.log", logLine("first run")), CreatedAt: 1},
		{Id: "new", Labels: labels, Annotations: map[string]string{"io.kubernetes.container.restartCount": "1"}, State: criapi.ContainerState_CONTAINER_EXITED, LogPath: write("1.log", logLine("second run a")+logLine("second run b")), CreatedAt: 2},
	}}
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = indexer.Add(&v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-1"}, Spec: v1.PodSpec{Containers: []v1.Container{{Name: "app"}}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{DataDir: dir, NodeName: "n1", NodeIP: "127.0.0.1", Token: "secret", Runtime: &cri.Client{RuntimeServiceClient: rt},
		Pods: corelisters.NewPodLister(indexer), Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return "https://" + ln.Addr().String(), "secret"
}

func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test server
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestContainerLogs(t *testing.T) {
	base, token := startServer(t)
	for _, tc := range []struct {
		name, path, token string
		code              int
		body              string
	}{
		{"no token", "/containerLogs/ns/web/app", "", http.StatusUnauthorized, ""},
		{"wrong token", "/containerLogs/ns/web/app", "nope", http.StatusUnauthorized, ""},
		{"current run", "/containerLogs/ns/web/app", token, http.StatusOK, "second run a\nsecond run b\n"},
		{"previous run", "/containerLogs/ns/web/app?previous=true", token, http.StatusOK, "first run\n"},
		{"tail", "/containerLogs/ns/web/app?tailLines=1", token, http.StatusOK, "second run b\n"},
		{"limit", "/containerLogs/ns/web/app?limitBytes=6", token, http.StatusOK, "second"},
		{"unknown pod", "/containerLogs/ns/nope/app", token, http.StatusNotFound, ""},
		{"unknown container", "/containerLogs/ns/web/other", token, http.StatusBadRequest, ""},
		{"bad tail", "/containerLogs/ns/web/app?tailLines=x", token, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, base+tc.path, tc.token)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%s)", code, tc.code, body)
			}
			if tc.code == http.StatusOK && body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
		})
	}
	if code, body := get(t, base+"/healthz", ""); code != http.StatusOK || body != "ok" {
		t.Errorf("healthz: %d %q", code, body)
	}
}

type exitErr struct{ code int }

func (e exitErr) Error() string   { return "exit " + strconv.Itoa(e.code) }
func (e exitErr) String() string  { return e.Error() }
func (e exitErr) Exited() bool    { return true }
func (e exitErr) ExitStatus() int { return e.code }

var _ utilexec.ExitError = exitErr{}

func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status string
		reason metav1.StatusReason
		code   string
	}{
		{nil, metav1.StatusSuccess, "", ""},
		{exitErr{3}, metav1.StatusFailure, "NonZeroExitCode", "3"},
		{errors.New("boom"), metav1.StatusFailure, metav1.StatusReasonInternalError, ""},
	} {
		s := exitStatus(tc.err)
		if s.Status != tc.status || s.Reason != tc.reason {
			t.Errorf("%v: status %+v", tc.err, s)
		}
		if tc.code != "" && (s.Details == nil || s.Details.Causes[0].Message != tc.code || s.Details.Causes[0].Type != "ExitCode") {
			t.Errorf("%v: details %+v", tc.err, s.Details)
		}
		if _, err := json.Marshal(s); err != nil {
			t.Error(err)
		}
	}
}

func TestWebSocketDetection(t *testing.T) {
	req := func(upgrade, protocols string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, "https://x/exec/a/b/c", nil)
		if upgrade != "" {
			r.Header.Set("Connection", "Upgrade")
			r.Header.Set("Upgrade", upgrade)
		}
		if protocols != "" {
			r.Header.Set("Sec-WebSocket-Protocol", protocols)
		}
		return r
	}
	if !wantsRemoteCommandWebSocket(req("websocket", "v5.channel.k8s.io, v4.channel.k8s.io")) {
		t.Error("v5 WebSocket exec not detected")
	}
	if wantsRemoteCommandWebSocket(req("SPDY/3.1", "")) || wantsRemoteCommandWebSocket(req("websocket", "base64.channel.k8s.io")) {
		t.Error("SPDY and old protocols go to the runtime as they are")
	}
	if !wantsTunnel(req("websocket", "SPDY/3.1+portforward.k8s.io")) || wantsTunnel(req("websocket", "v4.channel.k8s.io")) {
		t.Error("port-forward tunnel detection")
	}
	q := req("", "").URL.Query()
	q.Set("stdin", "true")
	q.Set("tty", "1")
	q.Set("output", "true")
	if o := parseStreamOptions(q); !o.stdin || !o.tty || !o.stdout || o.stderr {
		t.Errorf("options %+v", o)
	}
}
