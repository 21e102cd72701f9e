// Package inprocess is an http.RoundTripper that serves requests with an
// http.Handler of the same process.
//
// skiff's controllers, scheduler and node agent run inside the API server's
// process. Over the network each of their requests and watch events was
// encrypted, framed as HTTP/2, copied through the kernel's loopback device,
// decrypted and unframed again: ~9% of the server's CPU under a create load,
// all of it spent talking to itself. This transport hands the request to the
// API server's handler directly and streams the response back through memory;
// everything above the transport (client-go, protobuf bodies, watch decoding)
// and below the handler (authentication, admission, storage) is unchanged.
package inprocess

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// maxBuffered bounds the body bytes a streaming response holds for a reader
// that has not taken them yet; the handler's writes wait beyond it, as they
// would on a full socket.
const maxBuffered = 1 << 20

// errClientClosed is what a handler's write returns once the client has
// closed the response body.
var errClientClosed = errors.New("in-process client closed the response")

// Transport serves each request with Handler on a goroutine of its own.
type Transport struct {
	Handler http.Handler
	// TLS is the connection state the handler sees in Request.TLS, as if the
	// request had come over this TLS connection (nil: as over plain HTTP).
	// Authentication by client certificate reads it.
	TLS *tls.ConnectionState
}

// RoundTrip implements http.RoundTripper. It returns when the handler has
// written its whole response or flushed a first part of it (a watch); the
// rest streams through the response body, and closing the body cancels the
// handler's context.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	sreq := serverRequest(ctx, req, t.TLS)
	w := newResponseWriter(cancel)
	go w.serve(t.Handler, sreq)
	select {
	case <-w.ready:
	case <-ctx.Done():
		// A handler that returned ends this context too, right after handing out its response,
		// and select picks at random when both have happened by now. Only the client's own
		// context ending fails the request.
		if req.Context().Err() == nil {
			<-w.ready // closed before the handler's return cancels ctx
			return w.response(req), nil
		}
		w.closeBody()
		return nil, fmt.Errorf("in-process %s %s: %w", req.Method, req.URL.Path, req.Context().Err())
	}
	return w.response(req), nil
}

// serverRequest is req as an http.Server would hand it to a handler.
func serverRequest(ctx context.Context, req *http.Request, state *tls.ConnectionState) *http.Request {
	s := req.Clone(ctx)
	s.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	s.RequestURI = req.URL.RequestURI()
	if s.Host == "" {
		s.Host = req.URL.Host
	}
	// Many requests at once on one client, each on a goroutine of its own:
	// what a handler expects of HTTP/2.
	s.Proto, s.ProtoMajor, s.ProtoMinor = "HTTP/2.0", 2, 0
	s.RemoteAddr = "in-process"
	s.TLS = state
	if s.Body == nil {
		s.Body = http.NoBody
	}
	return s
}

// responseWriter is the handler's http.ResponseWriter and, once the response
// is handed over, the client's response body.
type responseWriter struct {
	cancel context.CancelFunc
	// ready is closed when the client may have the response: the handler has
	// returned or flushed.
	ready chan struct{}

	header http.Header // the handler's, until the status is written

	mu        sync.Mutex
	cond      sync.Cond
	status    int
	sent      http.Header // header as of WriteHeader
	buf       bytes.Buffer
	streaming bool  // flushed before returning: the body is read while written
	done      bool  // the handler returned
	failure   error // the handler panicked; the body ends with this error
	closed    bool  // the client closed the body
	handedOut bool  // ready has been closed
}

func newResponseWriter(cancel context.CancelFunc) *responseWriter {
	w := &responseWriter{cancel: cancel, ready: make(chan struct{}), header: http.Header{}}
	w.cond.L = &w.mu
	return w
}

func (w *responseWriter) serve(h http.Handler, r *http.Request) {
	defer func() {
		rec := recover()
		w.mu.Lock()
		if rec != nil {
			if w.status == 0 && !w.handedOut {
				// Nothing sent yet: answer as net/http does to a panicking handler
				// that wrote nothing, with a failed request.
				w.writeHeaderLocked(http.StatusInternalServerError)
				w.buf.Reset()
			} else {
				w.failure = fmt.Errorf("in-process handler panicked: %v", rec)
			}
		}
		w.writeHeaderLocked(http.StatusOK)
		w.done = true
		w.handOutLocked()
		w.cond.Broadcast()
		w.mu.Unlock()
		w.cancel()         // the request is over, as when a server finishes a response
		_ = r.Body.Close() // RoundTrip's duty, done once the handler is through with it
	}()
	h.ServeHTTP(w, r)
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	w.mu.Lock()
	w.writeHeaderLocked(code)
	w.mu.Unlock()
}

func (w *responseWriter) writeHeaderLocked(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	w.sent = w.header.Clone()
	// Framing is the transport's business; the client sees a decoded body.
	w.sent.Del("Transfer-Encoding")
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(http.StatusOK)
	for w.streaming && !w.closed && w.buf.Len() >= maxBuffered {
		w.cond.Wait()
	}
	if w.closed {
		return 0, errClientClosed
	}
	n, _ := w.buf.Write(p)
	if w.streaming {
		w.cond.Broadcast()
	}
	return n, nil
}

// Flush implements http.Flusher: from now on the client reads the body as it
// is written.
func (w *responseWriter) Flush() {
	w.mu.Lock()
	w.writeHeaderLocked(http.StatusOK)
	w.streaming = true
	w.handOutLocked()
	w.cond.Broadcast()
	w.mu.Unlock()
}

func (w *responseWriter) handOutLocked() {
	if !w.handedOut {
		w.handedOut = true
		close(w.ready)
	}
}

// response is the client's view, once ready is closed.
func (w *responseWriter) response(req *http.Request) *http.Response {
	w.mu.Lock()
	defer w.mu.Unlock()
	resp := &http.Response{
		Status:     fmt.Sprintf("%d %s", w.status, http.StatusText(w.status)),
		StatusCode: w.status,
		Proto:      "HTTP/2.0", ProtoMajor: 2,
		Header:  w.sent,
		Request: req,
	}
	if w.done && !w.streaming && w.failure == nil {
		// The whole body is here and no one writes it any more.
		body := w.buf.Bytes()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return resp
	}
	resp.Body = (*body)(w)
	resp.ContentLength = -1
	return resp
}

// body is the response body of a streaming response.
type body responseWriter

func (b *body) Read(p []byte) (int, error) {
	w := (*responseWriter)(b)
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.buf.Len() == 0 && !w.done && !w.closed {
		w.cond.Wait()
	}
	switch {
	case w.closed:
		return 0, errClientClosed
	case w.buf.Len() > 0:
		n, _ := w.buf.Read(p)
		w.cond.Broadcast() // a writer may wait for room
		return n, nil
	case w.failure != nil:
		return 0, w.failure
	default:
		return 0, io.EOF
	}
}

func (b *body) Close() error {
	(*responseWriter)(b).closeBody()
	return nil
}

// closeBody ends the exchange from the client's side: the handler's context
// is cancelled and its writes fail.
func (w *responseWriter) closeBody() {
	w.mu.Lock()
	w.closed = true
	w.buf = bytes.Buffer{}
	w.cond.Broadcast()
	w.mu.Unlock()
	w.cancel()
}
