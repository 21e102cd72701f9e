package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestStockKubectl drives skiff with the machine's own kubectl, a client skiff did not build.
func TestStockKubectl(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	stock, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("no stock kubectl on PATH")
	}
	s := framework.Start(t, framework.Options{})
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(stock, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	manifest := filepath.Join(framework.SharedDir(), "examples", "tinyurl", "create_all.yaml")
	if _, err := os.Stat(manifest); err != nil {
		t.Fatal(err)
	}
	out := run("apply", "-f", manifest)
	for _, want := range []string{"deployment.apps/frontend created", "service/postgres created"} {
		if !strings.Contains(out, want) {
			t.Fatalf("apply lacks %q:\n%s", want, out)
		}
	}
	if out := run("apply", "-f", manifest); !strings.Contains(out, "unchanged") {
		t.Fatalf("second apply:\n%s", out)
	}
	if out := run("get", "svc", "frontend"); !strings.Contains(out, "8001:30080/TCP") {
		t.Fatalf("get svc:\n%s", out)
	}
	if out := run("apply", "--server-side", "--force-conflicts", "-f", manifest); !strings.Contains(out, "serverside-applied") {
		t.Fatalf("server-side apply:\n%s", out)
	}
	if out := run("explain", "pods.spec.containers.ports"); !strings.Contains(out, "containerPort") {
		t.Fatalf("explain:\n%s", out)
	}
	if out := run("version", "-o", "json"); !strings.Contains(out, `"gitVersion": "v1.37.2+skiff"`) {
		t.Fatalf("version:\n%s", out)
	}
	if out := run("delete", "-f", manifest); !strings.Contains(out, "deleted") {
		t.Fatalf("delete:\n%s", out)
	}
}
