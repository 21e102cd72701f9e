package server

import (
	"net/http"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/pki"
)

// TestServeInProcess: a client of the admin kubeconfig, switched to the
// in-process transport, reaches the handler without a network and is
// authenticated as the kubeconfig's certificate would be; the config keeps
// the CA that components read from it.
func TestServeInProcess(t *testing.T) {
	dir := t.TempDir()
	bundle, err := pki.Ensure(filepath.Join(dir, "tls"), nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	// Port 1 of an unroutable address: any attempt at the network fails.
	if err := bundle.WriteAdminKubeconfig(kubeconfig, "https://192.0.2.1:1"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	auth := &apiserver.Authenticator{CAPool: bundle.CAPool()}
	var user string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := auth.Authenticate(r)
		if !ok {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		user = u.Username
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
	})
	if err := serveInProcess(cfg, handler); err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("version through the in-process transport: %v", err)
	}
	if v.GitVersion != "v1.37.2" || user != "system:admin" {
		t.Fatalf("version %q as user %q, want v1.37.2 as system:admin", v.GitVersion, user)
	}
	if len(cfg.TLSClientConfig.CAData) == 0 {
		t.Fatal("the config lost its CA")
	}
}
