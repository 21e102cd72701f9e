// Package etcd starts the embedded etcd that holds skiff's state, or connects to an external one.
package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Backend is a running datastore: a client plus a way to stop what was started for it.
type Backend struct {
	Client *clientv3.Client
	stop   func()
}

// Close stops the client and, for the embedded etcd, the server.
func (b *Backend) Close() {
	if b.stop != nil {
		b.stop()
	}
}

// ports are the loopback ports the embedded etcd listens on; they are chosen once per data dir and
// kept, because etcd records its peer URL in its membership data.
type ports struct {
	Client int `json:"client"`
	Peer   int `json:"peer"`
}

// Start connects to the external etcd at endpoints when given, otherwise starts an embedded etcd
// with its data under dir.
func Start(ctx context.Context, dir string, endpoints []string) (*Backend, error) {
	if len(endpoints) > 0 {
		return connect(ctx, endpoints)
	}
	return startEmbedded(ctx, dir)
}

func connect(ctx context.Context, endpoints []string) (*Backend, error) {
	for i, ep := range endpoints {
		endpoints[i] = strings.TrimPrefix(ep, "etcd://")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Context: ctx, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Status(sctx, endpoints[0]); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd %s not reachable: %w", endpoints[0], err)
	}
	return &Backend{Client: cli, stop: func() { cli.Close() }}, nil
}

func startEmbedded(ctx context.Context, dir string) (*Backend, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd dir: %w", err)
	}
	portsPath := filepath.Join(dir, "ports.json")
	// Until etcd has written its member data it has recorded no peer URL, and its ports may
	// still change.
	_, statErr := os.Stat(filepath.Join(dir, "data", "member"))
	fresh := os.IsNotExist(statErr)
	var e *embed.Etcd
	for attempt := 1; ; attempt++ {
		p, err := loadPorts(portsPath)
		if err != nil {
			return nil, err
		}
		cfg := embedConfig(dir, p)
		e, err = embed.StartEtcd(cfg)
		if err == nil {
			break
		}
		// Free ports are picked before etcd binds them, and another process (a parallel test's
		// server) may take one in between. On a fresh data dir nothing is written when the
		// listeners fail, so pick again.
		if fresh && attempt < 5 && strings.Contains(err.Error(), "address already in use") {
			_ = os.Remove(portsPath)
			_ = os.RemoveAll(cfg.Dir)
			continue
		}
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd not ready after 60s")
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	// An in-process client skips the network and gRPC encoding for every request.
	cli := v3client.New(e.Server)
	return &Backend{Client: cli, stop: func() { cli.Close(); e.Close() }}, nil
}

// embedConfig is the embedded etcd's configuration for a data dir and its ports.
func embedConfig(dir string, p ports) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = "skiff"
	cfg.Dir = filepath.Join(dir, "data")
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", p.Client)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", p.Peer)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.Name + "=" + peerURL.String()
	// Compact history older than five minutes, as kube-apiserver asks its etcd to; watchers that fall
	// further behind get 410 Gone and relist.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"
	cfg.QuotaBackendBytes = 8 << 30
	cfg.SnapshotCount = 10000
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(zapcore.NewNopCore()))
	return cfg
}

func loadPorts(path string) (ports, error) {
	var p ports
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &p); err != nil {
			return p, fmt.Errorf("read %s: %w", path, err)
		}
		return p, nil
	}
	var err error
	if p.Client, err = freePort(); err != nil {
		return p, err
	}
	if p.Peer, err = freePort(); err != nil {
		return p, err
	}
	data, _ := json.Marshal(p)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return p, fmt.Errorf("write %s: %w", path, err)
	}
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
