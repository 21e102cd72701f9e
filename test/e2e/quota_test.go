package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestResourceQuotas follows upstream's "Configure Memory and CPU Quotas for a Namespace" and
// "Configure a Pod Quota for a Namespace" tasks: the controller counts usage into status, creates
// that would pass a hard limit or leave out a limited request are refused in upstream's words,
// and deleting objects gives their share back.
func TestResourceQuotas(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	s.MustKubectl(t, "create", "namespace", "quota-demo")
	const rq = `apiVersion: v1
kind: ResourceQuota
metadata:
  name: demo
spec:
  hard:
    pods: "2"
    requests.cpu: "1"
    requests.memory: 1Gi
    limits.cpu: "2"
    limits.memory: 2Gi
    configmaps: "3"
`
	if out, err := s.KubectlWithInput(t, rq, "apply", "-n", "quota-demo", "-f", "-"); err != nil {
		t.Fatalf("apply quota: %v\n%s", err, out)
	}
	used := func() string {
		return s.MustKubectl(t, "get", "resourcequota", "demo", "-n", "quota-demo", "-o",
			`jsonpath={.status.used.pods} {.status.used.requests\.cpu} {.status.used.configmaps}`)
	}
	waitUsed := func(want string) {
		t.Helper()
		framework.Eventually(t, 30*time.Second, "quota used "+want, func() (bool, error) { return used() == want, nil })
	}
	// kube-root-ca.crt is the namespace's first ConfigMap.
	waitUsed("0 0 1")

	podYAML := func(name, resources string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n  containers:\n  - name: app\n    image: nginx\n%s", name, resources)
	}
	const sized = "    resources:\n      requests: {cpu: 300m, memory: 200Mi}\n      limits: {cpu: 600m, memory: 400Mi}\n"
	create := func(name, resources string) (string, error) {
		return s.KubectlWithInput(t, podYAML(name, resources), "create", "-n", "quota-demo", "-f", "-")
	}

	out, err := create("bare", "")
	if err == nil || !strings.Contains(out, `pods "bare" is forbidden: failed quota: demo: must specify limits.cpu for: app; limits.memory for: app; requests.cpu for: app; requests.memory for: app`) {
		t.Fatalf("pod without requests: %v\n%s", err, out)
	}
	for _, name := range []string{"one", "two"} {
		if out, err := create(name, sized); err != nil {
			t.Fatalf("create %s: %v\n%s", name, err, out)
		}
	}
	// Admission charged the quota at once; the controller's recount agrees.
	if got := used(); got != "2 600m 1" {
		t.Fatalf("used after two pods: %q", got)
	}
	out, err = create("three", sized)
	if err == nil || !strings.Contains(out, `pods "three" is forbidden: exceeded quota: demo, requested: pods=1, used: pods=2, limited: pods=2`) {
		t.Fatalf("third pod: %v\n%s", err, out)
	}
	if out, err := s.Kubectl(t, "get", "pod", "three", "-n", "quota-demo"); err == nil {
		t.Fatalf("refused pod was stored:\n%s", out)
	}
	// A deleted pod gives its share back.
	s.MustKubectl(t, "delete", "pod", "one", "-n", "quota-demo", "--grace-period=0", "--force")
	waitUsed("1 300m 1")
	if out, err := create("three", sized); err != nil {
		t.Fatalf("pod after a delete: %v\n%s", err, out)
	}

	// Object counts of other kinds.
	s.MustKubectl(t, "create", "configmap", "a", "-n", "quota-demo")
	s.MustKubectl(t, "create", "configmap", "b", "-n", "quota-demo")
	out, err = s.Kubectl(t, "create", "configmap", "c", "-n", "quota-demo")
	if err == nil || !strings.Contains(out, "exceeded quota: demo, requested: configmaps=1, used: configmaps=3, limited: configmaps=3") {
		t.Fatalf("fourth configmap: %v\n%s", err, out)
	}
	// Deleting one gives its share back (a metadata informer on the kinds quotas count).
	s.MustKubectl(t, "delete", "configmap", "a", "-n", "quota-demo")
	framework.Eventually(t, 10*time.Second, "configmap share returned", func() (bool, error) {
		return strings.HasSuffix(used(), " 2"), nil
	})
	s.MustKubectl(t, "create", "configmap", "c", "-n", "quota-demo")
	// kubectl shows usage against the limits.
	desc := s.MustKubectl(t, "describe", "quota", "demo", "-n", "quota-demo")
	for _, want := range []string{`pods\s+2\s+2`, `configmaps\s+3\s+3`, `requests\.cpu\s+600m\s+1`} {
		if !regexp.MustCompile(want).MatchString(desc) {
			t.Fatalf("describe quota lacks %s:\n%s", want, desc)
		}
	}

	// "Resource quota per PriorityClass": a quota with a PriorityClass scope selector counts
	// only the pods of the classes it selects. The pods come first, so the quota's first
	// usage is the controller's count alone.
	const classes = `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: low
value: 10
---
apiVersion: v1
kind: Namespace
metadata:
  name: quota-pc
`
	const perClass = `apiVersion: v1
kind: ResourceQuota
metadata:
  name: pods-high
  namespace: quota-pc
spec:
  hard:
    pods: "1"
  scopeSelector:
    matchExpressions:
    - operator: In
      scopeName: PriorityClass
      values: ["high"]
`
	if out, err := s.KubectlWithInput(t, classes, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply priority classes: %v\n%s", err, out)
	}
	classPod := func(name, class string) (string, error) {
		spec := ""
		if class != "" {
			spec = "  priorityClassName: " + class + "\n"
		}
		return s.KubectlWithInput(t, fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\nspec:\n%s  containers:\n  - name: app\n    image: nginx\n", name, spec),
			"create", "-n", "quota-pc", "-f", "-")
	}
	for _, p := range []struct{ name, class string }{{"high-1", "high"}, {"low-1", "low"}, {"none-1", ""}} {
		if out, err := classPod(p.name, p.class); err != nil {
			t.Fatalf("create %s: %v\n%s", p.name, err, out)
		}
	}
	if out, err := s.KubectlWithInput(t, perClass, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply quota: %v\n%s", err, out)
	}
	var counted string
	framework.Eventually(t, 30*time.Second, "pods-high to be counted", func() (bool, error) {
		counted = s.MustKubectl(t, "get", "resourcequota", "pods-high", "-n", "quota-pc", "-o", "jsonpath={.status.used.pods}")
		return counted != "", nil
	})
	if counted != "1" {
		t.Fatalf("pods-high counts %s pods; want 1 (high-1 only, of three)", counted)
	}
	out, err = classPod("high-2", "high")
	if err == nil || !strings.Contains(out, `pods "high-2" is forbidden: exceeded quota: pods-high, requested: pods=1, used: pods=1, limited: pods=1`) {
		t.Fatalf("second high-priority pod: %v\n%s", err, out)
	}
	if out, err := classPod("low-2", "low"); err != nil {
		t.Fatalf("a low-priority pod beside a full pods-high: %v\n%s", err, out)
	}
}
