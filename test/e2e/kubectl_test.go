package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestKubectlTinyURLFlow drives the seed tutorial's manifests through the embedded kubectl,
// then restarts the server on the same data dir and checks nothing was lost.
func TestKubectlTinyURLFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	manifest := filepath.Join(framework.SharedDir(), "examples", "tinyurl", "create_all.yaml")
	if _, err := os.Stat(manifest); err != nil {
		t.Fatalf("tinyurl manifest: %v", err)
	}

	// The embedded kubectl knows its own version (a plain go build used to leave it unparsable,
	// and `kubectl version` exited 1).
	framework.ExpectOutput(t, s.MustKubectl(t, "version"), "Client Version: v1.37.2\n", "Server Version: v1.37.2+skiff")

	framework.ExpectOutput(t, s.MustKubectl(t, "apply", "-f", manifest), "deployment.apps/redis created", "service/frontend created", "configmap/postgres-config created")
	// Applying the same manifest again changes nothing.
	rvBefore := s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.metadata.resourceVersion}")
	framework.ExpectOutput(t, s.MustKubectl(t, "apply", "-f", manifest), "deployment.apps/redis unchanged", "service/frontend unchanged")
	if rvAfter := s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.metadata.resourceVersion}"); rvAfter != rvBefore {
		t.Fatalf("second apply changed redis: resourceVersion %s -> %s", rvBefore, rvAfter)
	}

	framework.ExpectOutput(t, s.MustKubectl(t, "get", "all"), "service/frontend", "deployment.apps/redis", "LoadBalancer")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "services"), "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "8001:30080/TCP")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deployments"), "READY", "UP-TO-DATE", "AVAILABLE")
	framework.Eventually(t, 30*time.Second, "the deployments' pods with the wide columns", func() (bool, error) {
		out, err := s.Kubectl(t, "get", "pods", "-o", "wide")
		return err == nil && strings.Contains(out, "redis-") && strings.Contains(out, "NOMINATED NODE") && strings.Contains(out, "READINESS GATES"),
			fmt.Errorf("%s %v", out, err)
	})
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "-o", "wide"), "CONTAINERS", "IMAGES", "SELECTOR", "irnlogic/redis")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "redis", "-o", "yaml"), "kind: Deployment", "name: redis", "resourceVersion:")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "svc", "postgres", "-o", "json"), `"kind": "Service"`, `"port": 5432`)
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "svc", "frontend", "-o", "jsonpath={.spec.ports[0].nodePort}"), "30080")
	framework.ExpectOutput(t, s.MustKubectl(t, "describe", "deploy", "redis"), "Name:", "redis", "Selector:", "app=redis")
	framework.ExpectOutput(t, s.MustKubectl(t, "describe", "svc", "frontend"), "Type:", "LoadBalancer", "NodePort:")

	framework.ExpectOutput(t, s.MustKubectl(t, "label", "deploy", "redis", "tier2=cache"), "labeled")
	framework.ExpectOutput(t, s.MustKubectl(t, "annotate", "deploy", "redis", "note=hello"), "annotated")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.metadata.labels.tier2}/{.metadata.annotations.note}"), "cache/hello")

	framework.ExpectOutput(t, s.MustKubectl(t, "scale", "deploy", "redis", "--replicas=3"), "scaled")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.spec.replicas}"), "3")

	s.MustKubectl(t, "patch", "deploy", "redis", "-p", `{"spec":{"template":{"spec":{"containers":[{"name":"master","image":"redis:7"}]}}}}`)
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.spec.template.spec.containers[*].image}"), "redis:7")
	s.MustKubectl(t, "patch", "deploy", "redis", "--type=merge", "-p", `{"metadata":{"labels":{"merged":"yes"}}}`)
	s.MustKubectl(t, "patch", "deploy", "redis", "--type=json", "-p", `[{"op":"replace","path":"/spec/replicas","value":4}]`)
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.metadata.labels.merged}/{.spec.replicas}"), "yes/4")

	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/note: hello/note: edited/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EDITOR", editor)
	framework.ExpectOutput(t, s.MustKubectl(t, "edit", "deploy", "redis"), "edited")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "redis", "-o", "jsonpath={.metadata.annotations.note}"), "edited")

	// get -w sees a change made while it watches.
	done := make(chan string, 1)
	go func() {
		out, _ := s.Kubectl(t, "get", "configmaps", "-w", "--request-timeout=6s")
		done <- out
	}()
	time.Sleep(1500 * time.Millisecond)
	s.MustKubectl(t, "create", "configmap", "watched", "--from-literal=k=v")
	select {
	case out := <-done:
		framework.ExpectOutput(t, out, "watched")
	case <-time.After(30 * time.Second):
		t.Fatal("kubectl get -w did not end")
	}

	framework.ExpectOutput(t, s.MustKubectl(t, "create", "namespace", "demo"), "namespace/demo created")
	framework.ExpectOutput(t, s.MustKubectl(t, "apply", "-n", "demo", "-f", filepath.Join(framework.SharedDir(), "examples", "tinyurl", "postgres-pvc.yaml")), "created")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "pvc", "-n", "demo"), "postgres-disk")
	out := s.MustKubectl(t, "api-resources", "--namespaced=false")
	framework.ExpectOutput(t, out, "namespaces", "nodes", "persistentvolumes", "storageclasses")
	if strings.Contains(out, "configmaps") {
		t.Fatalf("api-resources --namespaced=false lists configmaps:\n%s", out)
	}

	framework.ExpectOutput(t, s.MustKubectl(t, "apply", "--server-side", "--force-conflicts", "-f", manifest), "serverside-applied")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "deploy", "frontend", "-o", "jsonpath={.metadata.managedFields[*].manager}"), "kubectl")
	framework.ExpectOutput(t, s.MustKubectl(t, "explain", "deployment.spec.template"), "DESCRIPTION", "FIELDS")

	// Restart on the same data dir: everything is still there.
	before := s.MustKubectl(t, "get", "deploy,svc,cm,pvc", "-A", "-o", "name")
	s.Restart(t)
	after := s.MustKubectl(t, "get", "deploy,svc,cm,pvc", "-A", "-o", "name")
	if before != after {
		t.Fatalf("objects changed across restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The stopped server handed back its controllers' leader lease: the new one runs them at once
	// (not after the 30 s lease ran out), so a new namespace gets its default ServiceAccount and
	// kube-root-ca.crt within seconds.
	framework.ExpectOutput(t, s.MustKubectl(t, "create", "namespace", "after-restart"), "created")
	framework.Eventually(t, 20*time.Second, "controllers to fill the new namespace", func() (bool, error) {
		out, err := s.Kubectl(t, "get", "serviceaccount/default", "configmap/kube-root-ca.crt", "-n", "after-restart", "-o", "name")
		return err == nil && strings.Contains(out, "serviceaccount/default") && strings.Contains(out, "configmap/kube-root-ca.crt"), fmt.Errorf("%s %v", out, err)
	})

	framework.ExpectOutput(t, s.MustKubectl(t, "delete", "-f", manifest), `deployment.apps "redis" deleted`, `service "frontend" deleted`)
	if out, _ := s.Kubectl(t, "get", "deploy", "redis"); !strings.Contains(out, "NotFound") {
		t.Fatalf("redis still exists after delete -f:\n%s", out)
	}
}
