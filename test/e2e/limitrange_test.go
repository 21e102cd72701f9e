package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestLimitRanges follows upstream's "Configure Default Memory Requests and Limits for a
// Namespace" and "Configure Minimum and Maximum CPU Constraints" tasks: a LimitRange's defaults
// land in pods that set nothing, and pods outside its bounds are refused with upstream's words.
func TestLimitRanges(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	s.MustKubectl(t, "create", "namespace", "constraints")
	const limits = `apiVersion: v1
kind: LimitRange
metadata:
  name: mem-cpu
spec:
  limits:
  - type: Container
    default:
      memory: 512Mi
    defaultRequest:
      memory: 256Mi
    max:
      cpu: 800m
    min:
      cpu: 200m
`
	if out, err := s.KubectlWithInput(t, limits, "apply", "-n", "constraints", "-f", "-"); err != nil {
		t.Fatalf("apply limit range: %v\n%s", err, out)
	}
	// The stored range is completed as upstream's defaulting does (max becomes the default limit).
	if out := s.MustKubectl(t, "get", "limitrange", "mem-cpu", "-n", "constraints", "-o", "jsonpath={.spec.limits[0].default.cpu} {.spec.limits[0].defaultRequest.cpu}"); out != "800m 800m" {
		t.Fatalf("limit range defaults: %q", out)
	}

	// A pod that sets nothing gets the defaults and the annotation saying so.
	const plain = `apiVersion: v1
kind: Pod
metadata:
  name: plain
spec:
  containers:
  - name: app
    image: nginx
`
	var out string
	var err error
	// The API server reads ranges from its cache, like upstream's informer: retry briefly.
	framework.Eventually(t, 10*time.Second, "pod admitted with defaults", func() (bool, error) {
		out, err = s.KubectlWithInput(t, plain, "create", "-n", "constraints", "-f", "-")
		return err == nil, nil
	})
	got := s.MustKubectl(t, "get", "pod", "plain", "-n", "constraints", "-o",
		`jsonpath={.spec.containers[0].resources.requests.memory} {.spec.containers[0].resources.limits.memory} {.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.cpu}`)
	if got != "256Mi 512Mi 800m 800m" {
		t.Fatalf("pod resources after defaults: %q", got)
	}
	ann := s.MustKubectl(t, "get", "pod", "plain", "-n", "constraints", "-o", `jsonpath={.metadata.annotations.kubernetes\.io/limit-ranger}`)
	if ann != "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app" {
		t.Fatalf("limit-ranger annotation: %q", ann)
	}

	// Above the max: refused, nothing stored.
	const big = `apiVersion: v1
kind: Pod
metadata:
  name: big
spec:
  containers:
  - name: app
    image: nginx
    resources:
      limits:
        cpu: "1500m"
      requests:
        cpu: "500m"
`
	out, err = s.KubectlWithInput(t, big, "create", "-n", "constraints", "-f", "-")
	if err == nil || !strings.Contains(out, `pods "big" is forbidden: maximum cpu usage per Container is 800m, but limit is 1500m`) {
		t.Fatalf("pod over the max: %v\n%s", err, out)
	}
	if out, err := s.Kubectl(t, "get", "pod", "big", "-n", "constraints"); err == nil {
		t.Fatalf("refused pod was stored:\n%s", out)
	}
	// Namespaces without ranges are untouched.
	s.MustKubectl(t, "run", "free", "--image=nginx")
	if got := s.MustKubectl(t, "get", "pod", "free", "-o", "jsonpath={.spec.containers[0].resources}"); got != "{}" {
		t.Fatalf("pod outside constrained namespace got resources %q", got)
	}
}
