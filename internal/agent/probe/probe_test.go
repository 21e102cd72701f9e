package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

type fakeExec struct {
	code atomic.Int32
	err  error
}

func (f *fakeExec) ExecSync(_ context.Context, _ string, _ []string, _ time.Duration) ([]byte, int32, error) {
	return []byte("out"), f.code.Load(), f.err
}

func hostPort(t *testing.T, raw string) (string, int) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)
	p, _ := strconv.Atoi(port)
	return host, p
}

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("User-Agent") != userAgent || r.Header.Get("X-Custom") != "yes" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
			return
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
	}))
	defer srv.Close()
	host, port := hostPort(t, srv.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcpPort := ln.Addr().(*net.TCPAddr).Port
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	container := &v1.Container{Ports: []v1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	target := Target{PodIP: host, ContainerID: "c1", Container: container}
	headers := []v1.HTTPHeader{{Name: "X-Custom", Value: "yes"}}
	exec := &fakeExec{}
	for _, tc := range []struct {
		name    string
		handler v1.ProbeHandler
		code    int32
		wantErr bool
	}{
		{"http ok with headers", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt(port), HTTPHeaders: headers}}, 0, false},
		{"http named port", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("http"), HTTPHeaders: headers}}, 0, false},
		{"http redirect followed", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/redirect", Port: intstr.FromInt(port), HTTPHeaders: headers}}, 0, false},
		{"http 500", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/fail", Port: intstr.FromInt(port)}}, 0, true},
		{"http unknown named port", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("nope")}}, 0, true},
		{"tcp open", v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt(tcpPort)}}, 0, false},
		{"tcp closed", v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt(closedPort)}}, 0, true},
		{"exec 0", v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"true"}}}, 0, false},
		{"exec 1", v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"false"}}}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec.code.Store(tc.code)
			if tc.handler.TCPSocket != nil {
				target.PodIP = "127.0.0.1"
			} else {
				target.PodIP = host
			}
			err := Check(context.Background(), &v1.Probe{ProbeHandler: tc.handler, TimeoutSeconds: 1}, target, exec)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if err := Check(context.Background(), &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"x"}}}}, target, &fakeExec{err: errors.New("boom")}); err == nil {
		t.Error("an exec error is a failure")
	}
}

func TestManagerThresholds(t *testing.T) {
	exec := &fakeExec{}
	var mu sync.Mutex
	changes := 0
	var failures []Event
	m := NewManager(exec, func(types.UID) { mu.Lock(); changes++; mu.Unlock() }, func(e Event) { mu.Lock(); failures = append(failures, e); mu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probe := func() *v1.Probe {
		return &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"check"}}}, PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1}
	}
	c := &v1.Container{Name: "app", ReadinessProbe: probe(), LivenessProbe: probe()}
	m.Add(ctx, "pod-1", "127.0.0.1", "cid", c, false)
	if st := m.State("cid"); st.Ready || !st.Started {
		t.Fatalf("initial state %+v: not ready until the readiness probe passes, started without a startup probe", st)
	}
	waitState := func(what string, cond func(State) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if cond(m.State("cid")) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("state never became %s: %+v", what, m.State("cid"))
	}
	waitState("ready", func(s State) bool { return s.Ready })
	exec.code.Store(1)
	waitState("failed and unready", func(s State) bool { return !s.Ready && s.Failed && s.FailedKind == Liveness })
	mu.Lock()
	if changes < 2 || len(failures) < 2 {
		t.Errorf("changes %d failures %d", changes, len(failures))
	}
	mu.Unlock()
	m.RemovePod("pod-1")
	if m.Known("cid") {
		t.Error("RemovePod must forget the container")
	}
	if st := m.State("unknown"); !st.Ready || !st.Started {
		t.Error("a container without probes is ready and started")
	}
}

func TestStartupGatesOtherProbes(t *testing.T) {
	exec := &fakeExec{}
	exec.code.Store(1)
	m := NewManager(exec, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"x"}}}, PeriodSeconds: 1, FailureThreshold: 100}
	c := &v1.Container{Name: "app", StartupProbe: p, ReadinessProbe: p.DeepCopy()}
	m.Add(ctx, "pod", "", "cid", c, false)
	time.Sleep(300 * time.Millisecond)
	if st := m.State("cid"); st.Started || st.Ready {
		t.Fatalf("state %+v before the startup probe passed", st)
	}
	exec.code.Store(0)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !(m.State("cid").Started && m.State("cid").Ready) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := m.State("cid"); !st.Started || !st.Ready {
		t.Fatalf("state %+v after the startup probe passed", st)
	}
}
