package etcd

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestStartPicksOtherPortsWhenTaken: ports chosen for a fresh data dir that another process
// took before etcd bound them are chosen again, instead of failing the start.
func TestStartPicksOtherPortsWhenTaken(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	data, _ := json.Marshal(ports{Client: port, Peer: port})
	if err := os.WriteFile(filepath.Join(dir, "ports.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Start(ctx, dir, nil)
	if err != nil {
		t.Fatalf("start with taken ports: %v", err)
	}
	defer b.Close()
	if _, err := b.Client.Put(ctx, "/k", "v"); err != nil {
		t.Fatalf("put: %v", err)
	}
	p, err := loadPorts(filepath.Join(dir, "ports.json"))
	if err != nil || p.Client == port || p.Peer == port {
		t.Fatalf("ports after the retry: %+v %v (taken %d)", p, err, port)
	}
}
