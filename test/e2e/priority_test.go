package e2e

import (
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestPriorityClasses covers scheduling.k8s.io/v1 PriorityClasses and the Priority admission: the
// two system classes exist, a pod's priority comes from the class it names (or the global
// default), and unknown classes, user classes above the user range and a second global default
// are refused as upstream refuses them.
func TestPriorityClasses(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "priorityclasses"), "system-cluster-critical   2000000000", "system-node-critical      2000001000")

	const classes = `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high
value: 1000
description: important
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: low-default
value: 10
globalDefault: true
preemptionPolicy: Never
`
	if out, err := s.KubectlWithInput(t, classes, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply priority classes: %v\n%s", err, out)
	}
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "pc", "high", "-o", "jsonpath={.preemptionPolicy}"), "PreemptLowerPriority")

	pod := func(name, class string) string {
		spec := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\nspec:\n"
		if class != "" {
			spec += "  priorityClassName: " + class + "\n"
		}
		return spec + "  containers:\n  - name: app\n    image: nginx\n"
	}
	for _, tc := range []struct{ name, class, want string }{
		{"p-high", "high", "high 1000 PreemptLowerPriority"},
		{"p-critical", "system-cluster-critical", "system-cluster-critical 2000000000 PreemptLowerPriority"},
		{"p-default", "", "low-default 10 Never"},
	} {
		if out, err := s.KubectlWithInput(t, pod(tc.name, tc.class), "create", "-f", "-"); err != nil {
			t.Fatalf("create %s: %v\n%s", tc.name, err, out)
		}
		got := s.MustKubectl(t, "get", "pod", tc.name, "-o", "jsonpath={.spec.priorityClassName} {.spec.priority} {.spec.preemptionPolicy}")
		if got != tc.want {
			t.Fatalf("pod %s: %q, want %q", tc.name, got, tc.want)
		}
	}

	out, err := s.KubectlWithInput(t, pod("p-missing", "nope"), "create", "-f", "-")
	if err == nil || !strings.Contains(out, `pods "p-missing" is forbidden: no PriorityClass with name nope was found`) {
		t.Fatalf("pod naming a missing class: %v\n%s", err, out)
	}
	out, err = s.KubectlWithInput(t, "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: huge\nvalue: 2000000000\n", "create", "-f", "-")
	if err == nil || !strings.Contains(out, "maximum allowed value of a user defined priority is 1000000000") {
		t.Fatalf("class above the user range: %v\n%s", err, out)
	}
	out, err = s.KubectlWithInput(t, "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: second\nvalue: 5\nglobalDefault: true\n", "create", "-f", "-")
	if err == nil || !strings.Contains(out, "PriorityClass low-default is already marked as default. Only one default can exist") {
		t.Fatalf("second global default: %v\n%s", err, out)
	}
	out, err = s.Kubectl(t, "patch", "pc", "high", "--type=merge", "-p", `{"globalDefault":true}`)
	if err == nil || !strings.Contains(out, "PriorityClass low-default is already marked as default. Only one default can exist") {
		t.Fatalf("making a second class the global default: %v\n%s", err, out)
	}
	out, err = s.Kubectl(t, "patch", "pc", "high", "--type=merge", "-p", `{"value":5}`)
	if err == nil || !strings.Contains(out, "may not be changed in an update") {
		t.Fatalf("changing a class's value: %v\n%s", err, out)
	}
}
