package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// The runtime's streaming server speaks SPDY and WebSocket up to v4, while
// kubectl asks for WebSocket v5 first (exec, attach) or SPDY tunnelled in a
// WebSocket (port-forward). The agent serves those WebSocket protocols
// itself and talks SPDY to the runtime, as the API server's stream
// translator does upstream; a client that falls back to SPDY is proxied as is.

const (
	channelV5       = "v5.channel.k8s.io"
	channelV4       = "v4.channel.k8s.io"
	portForwardSPDY = "portforward.k8s.io"
	tunnelPrefix    = "SPDY/3.1+"
	streamIdle      = 4 * time.Hour
)

// streamOptions are the stdio choices of an exec or attach request.
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

// wantsRemoteCommandWebSocket: a WebSocket request offering v5 or v4.
func wantsRemoteCommandWebSocket(r *http.Request) bool {
	if !wsstream.IsWebSocketRequest(r) {
		return false
	}
	for _, p := range strings.Split(r.Header.Get("Sec-WebSocket-Protocol"), ",") {
		if p = strings.TrimSpace(p); p == channelV5 || p == channelV4 {
			return true
		}
	}
	return false
}

// wantsTunnel: a WebSocket request tunnelling SPDY port-forwarding.
func wantsTunnel(r *http.Request) bool {
	if !wsstream.IsWebSocketRequest(r) {
		return false
	}
	for _, p := range strings.Split(r.Header.Get("Sec-WebSocket-Protocol"), ",") {
		if strings.TrimSpace(p) == tunnelPrefix+portForwardSPDY {
			return true
		}
	}
	return false
}

// translateRemoteCommand serves exec/attach over WebSocket (v5 or v4) and
// runs it against the runtime's SPDY stream at target.
func (s *Server) translateRemoteCommand(w http.ResponseWriter, r *http.Request, target string, o streamOptions) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime stream URL: %v", err), http.StatusInternalServerError)
		return
	}
	executor, err := remotecommand.NewSPDYExecutor(&rest.Config{Host: u.Scheme + "://" + u.Host}, http.MethodPost, u)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime stream: %v", err), http.StatusInternalServerError)
		return
	}
	channel := func(on bool, t wsstream.ChannelType) wsstream.ChannelType {
		if on {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := []wsstream.ChannelType{
		channel(o.stdin, wsstream.ReadChannel),
		channel(o.stdout, wsstream.WriteChannel),
		channel(o.stderr && !o.tty, wsstream.WriteChannel),
		wsstream.WriteChannel, // error/status
		channel(o.tty, wsstream.ReadChannel),
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		channelV5: {Binary: true, Channels: channels},
		channelV4: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(streamIdle)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		s.cfg.Log.Warn("open exec websocket", "err", err)
		return
	}
	defer conn.Close()
	opts := remotecommand.StreamOptions{Tty: o.tty}
	if o.stdin {
		opts.Stdin = streams[0]
	}
	if o.stdout {
		opts.Stdout = streams[1]
	}
	if o.stderr && !o.tty {
		opts.Stderr = streams[2]
	}
	if o.tty {
		opts.TerminalSizeQueue = &sizeQueue{dec: json.NewDecoder(streams[4])}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streamErr := executor.StreamWithContext(ctx, opts)
	status, _ := json.Marshal(exitStatus(streamErr))
	_, _ = streams[3].Write(status)
}

// exitStatus is the Status a v4/v5 client reads on the error channel.
func exitStatus(err error) metav1.Status {
	if err == nil {
		return metav1.Status{Status: metav1.StatusSuccess}
	}
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  "NonZeroExitCode",
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", err),
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: strconv.Itoa(exitErr.ExitStatus())}}},
		}
	}
	return metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonInternalError, Message: err.Error()}
}

// sizeQueue reads terminal resizes ({"Width":..,"Height":..}) from the resize channel.
type sizeQueue struct{ dec *json.Decoder }

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	var size remotecommand.TerminalSize
	if err := q.dec.Decode(&size); err != nil {
		return nil
	}
	return &size
}

// tunnelPortForward accepts a WebSocket carrying SPDY port-forwarding, opens
// an SPDY port-forward stream on the runtime, and copies bytes between them:
// the SPDY session runs end to end between kubectl and the runtime.
func (s *Server) tunnelPortForward(w http.ResponseWriter, r *http.Request, target string) {
	u, err := url.Parse(target)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime stream URL: %v", err), http.StatusInternalServerError)
		return
	}
	backend, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		http.Error(w, fmt.Sprintf("dial runtime stream server: %v", err), http.StatusBadGateway)
		return
	}
	defer backend.Close()
	req, _ := http.NewRequest(http.MethodPost, u.String(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "SPDY/3.1")
	req.Header.Set("X-Stream-Protocol-Version", portForwardSPDY)
	if err := req.Write(backend); err != nil {
		http.Error(w, fmt.Sprintf("runtime port-forward: %v", err), http.StatusBadGateway)
		return
	}
	br := bufio.NewReader(backend)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		http.Error(w, fmt.Sprintf("runtime refused port-forward upgrade (status %d): %v", status, err), http.StatusBadGateway)
		return
	}
	upgrader := gwebsocket.Upgrader{
		Subprotocols: []string{tunnelPrefix + portForwardSPDY},
		CheckOrigin:  func(*http.Request) bool { return true }, // authenticated by token, not origin
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the client
	}
	defer ws.Close()
	done := make(chan struct{}, 2)
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			kind, msg, err := ws.NextReader()
			if err != nil {
				return
			}
			if kind != gwebsocket.BinaryMessage {
				continue
			}
			if _, err := io.Copy(backend, msg); err != nil {
				return
			}
		}
	}()
	go func() {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := br.Read(buf)
			if n > 0 {
				if werr := ws.WriteMessage(gwebsocket.BinaryMessage, buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	<-done
}
