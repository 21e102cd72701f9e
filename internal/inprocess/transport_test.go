package inprocess

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func roundTrip(t *testing.T, h http.HandlerFunc, req *http.Request) *http.Response {
	t.Helper()
	resp, err := (&Transport{Handler: h}).RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	return resp
}

func TestWholeResponses(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		wantStatus int
		wantHeader map[string]string
		wantBody   string
	}{
		{
			name: "status, header and body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, `{"kind":"ConfigMap"}`)
			},
			wantStatus: http.StatusCreated,
			wantHeader: map[string]string{"Content-Type": "application/json"},
			wantBody:   `{"kind":"ConfigMap"}`,
		},
		{
			name:       "nothing written is an empty 200",
			handler:    func(w http.ResponseWriter, r *http.Request) {},
			wantStatus: http.StatusOK,
		},
		{
			name:       "status only",
			handler:    func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) },
			wantStatus: http.StatusNotFound,
		},
		{
			name: "header set after the status is not sent",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("A", "1")
				_, _ = io.WriteString(w, "x")
				w.Header().Set("B", "2")
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string]string{"A": "1", "B": ""},
			wantBody:   "x",
		},
		{
			name: "a panic before any write is a 500",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("A", "1")
				panic("boom")
			},
			wantStatus: http.StatusInternalServerError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "https://server/api", nil)
			resp := roundTrip(t, tt.handler, req)
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			data, err := io.ReadAll(resp.Body)
			if err != nil || string(data) != tt.wantBody {
				t.Errorf("body %q (%v), want %q", data, err, tt.wantBody)
			}
			if tt.wantBody != "" && resp.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("ContentLength %d, want %d", resp.ContentLength, len(tt.wantBody))
			}
		})
	}
}

func TestHandlerSeesAServerRequest(t *testing.T) {
	state := &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: pkix.Name{CommonName: "system:admin"}}}}}
	var got *http.Request
	var gotBody []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
	})
	req, _ := http.NewRequest(http.MethodPost, "https://server:6443/api/v1/namespaces/default/configmaps?dryRun=All", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&Transport{Handler: h, TLS: state}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checks := []struct{ name, got, want string }{
		{"method", got.Method, http.MethodPost},
		{"path", got.URL.Path, "/api/v1/namespaces/default/configmaps"},
		{"query", got.URL.Query().Get("dryRun"), "All"},
		{"URL host (a server request has none)", got.URL.Host, ""},
		{"RequestURI", got.RequestURI, "/api/v1/namespaces/default/configmaps?dryRun=All"},
		{"Host", got.Host, "server:6443"},
		{"header", got.Header.Get("Content-Type"), "application/json"},
		{"body", string(gotBody), "{}"},
		{"proto", got.Proto, "HTTP/2.0"},
		{"TLS user", got.TLS.VerifiedChains[0][0].Subject.CommonName, "system:admin"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestStreamingResponse(t *testing.T) {
	next := make(chan struct{})
	handlerDone := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Header().Set("Transfer-Encoding", "chunked")
		_, _ = io.WriteString(w, "first;")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "second;")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://server/watch", nil)
	resp := roundTrip(t, h, req) // returns at the flush, before the second part exists
	defer resp.Body.Close()
	if resp.Header.Get("Transfer-Encoding") != "" || resp.ContentLength != -1 {
		t.Errorf("streaming response: Transfer-Encoding %q, ContentLength %d", resp.Header.Get("Transfer-Encoding"), resp.ContentLength)
	}
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || string(buf[:n]) != "first;" {
		t.Fatalf("first read %q, %v", buf[:n], err)
	}
	close(next)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "second;" {
		t.Fatalf("rest %q, %v", rest, err)
	}
	<-handlerDone
}

func TestClosingTheBodyCancelsTheHandler(t *testing.T) {
	writeErr := make(chan error, 1)
	h := func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		_, err := io.WriteString(w, "too late")
		writeErr <- err
	}
	req, _ := http.NewRequest(http.MethodGet, "https://server/watch", nil)
	resp := roundTrip(t, h, req)
	resp.Body.Close()
	select {
	case err := <-writeErr:
		if !errors.Is(err, errClientClosed) {
			t.Errorf("write after close: %v, want %v", err, errClientClosed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler still running 5 s after the body was closed")
	}
}

func TestRequestContextEndsTheWait(t *testing.T) {
	handlerCtxDone := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		close(handlerCtxDone)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://server/slow", nil)
	_, err := (&Transport{Handler: http.HandlerFunc(h)}).RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RoundTrip: %v, want deadline exceeded", err)
	}
	select {
	case <-handlerCtxDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled")
	}
}

func TestPanicAfterFlushFailsTheBody(t *testing.T) {
	h := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "part")
		w.(http.Flusher).Flush()
		panic("boom")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://server/watch", nil)
	resp := roundTrip(t, h, req)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if string(data) != "part" || err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("body %q, error %v; want the part written and then the panic", data, err)
	}
}

func TestSlowReaderHoldsBackTheWriter(t *testing.T) {
	const chunk, chunks = 64 << 10, 48 // 3 MiB, three times the buffer
	var written atomic.Int64
	h := func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush()
		p := bytes.Repeat([]byte{'x'}, chunk)
		for i := 0; i < chunks; i++ {
			if _, err := w.Write(p); err != nil {
				return
			}
			written.Add(chunk)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "https://server/watch", nil)
	resp := roundTrip(t, h, req)
	defer resp.Body.Close()
	time.Sleep(100 * time.Millisecond)
	if w := written.Load(); w > maxBuffered+chunk {
		t.Fatalf("%d bytes written with no reader; the buffer holds %d", w, maxBuffered)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != chunk*chunks {
		t.Fatalf("read %d bytes (%v), want %d", n, err, chunk*chunks)
	}
}

// TestClientGo runs a typed client-go client over the transport: a GET and a
// watch whose events arrive one by one while the handler still writes.
func TestClientGo(t *testing.T) {
	events := make(chan string)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "true" {
			_, _ = io.WriteString(w, `{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"`+strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/default/configmaps/")+`"}}`)
			return
		}
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case name := <-events:
				fmt.Fprintf(w, `{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":%q}}}`+"\n", name)
			}
		}
	})
	cfg := &rest.Config{Host: "https://in-process.invalid", WrapTransport: func(http.RoundTripper) http.RoundTripper { return &Transport{Handler: h} }}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "one", metav1.GetOptions{})
	if err != nil || cm.Name != "one" {
		t.Fatalf("get: %v, %v", cm, err)
	}
	w, err := cs.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, name := range []string{"a", "b", "c"} {
		events <- name
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != name {
				t.Fatalf("event %v %v, want ADDED %s", ev.Type, ev.Object, name)
			}
		case <-ctx.Done():
			t.Fatalf("no event for %s", name)
		}
	}
}

// TestFinishedHandlerIsNotACancelledRequest: a handler that has returned ends its request's
// context, as a server does; RoundTrip must still hand out the response when it only gets to
// look after both have happened (it used to pick between them at random under load).
func TestFinishedHandlerIsNotACancelledRequest(t *testing.T) {
	tr := &Transport{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				req, _ := http.NewRequest(http.MethodGet, "https://in-process.invalid/version", nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatalf("round trip of a finished handler failed: %v", err)
	default:
	}
}
