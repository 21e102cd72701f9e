package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/etcd"
	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestExternalDatastore runs the server against an etcd it did not start (--datastore-endpoint)
// and checks objects land there and survive a server restart.
func TestExternalDatastore(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	etcdDir := t.TempDir()
	be, err := etcd.Start(ctx, etcdDir, nil)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(be.Close)
	t.Cleanup(cancel)
	var ports struct {
		Client int `json:"client"`
	}
	data, err := os.ReadFile(filepath.Join(etcdDir, "ports.json"))
	if err == nil {
		err = json.Unmarshal(data, &ports)
	}
	if err != nil {
		t.Fatalf("etcd ports: %v", err)
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", ports.Client)
	s := framework.Start(t, framework.Options{ExtraArgs: []string{"--datastore-endpoint", endpoint}})
	s.MustKubectl(t, "create", "configmap", "outside", "--from-literal=k=v")
	resp, err := be.Client.Get(ctx, "/registry/configmaps/default/outside")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("configmap not in the external etcd: %v %v", resp, err)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "etcd")); err == nil {
		t.Fatal("server started an embedded etcd despite --datastore-endpoint")
	}
	s.Restart(t)
	if out := s.MustKubectl(t, "get", "configmap", "outside", "-o", "jsonpath={.data.k}"); strings.TrimSpace(out) != "v" {
		t.Fatalf("after restart: %q", out)
	}
}
