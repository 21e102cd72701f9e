package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

const crontabCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec:
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                type: string
              replicas:
                type: integer
                minimum: 1
                maximum: 10
                default: 1
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// TestCustomResources defines a CRD and uses its resource through kubectl: schema defaults,
// pruning, validation, printer columns, a second served version, patches, server-side apply,
// and cleanup when the CRD is deleted.
func TestCustomResources(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	out, err := s.KubectlWithInput(t, crontabCRD, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("apply CRD: %v\n%s", err, out)
	}
	framework.ExpectOutput(t, out, "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created")
	framework.ExpectOutput(t, s.MustKubectl(t, "wait", "--for=condition=Established", "crd/crontabs.stable.example.com", "--timeout=20s"), "condition met")
	framework.Eventually(t, 20*time.Second, "crontabs served", func() (bool, error) {
		_, err := s.Kubectl(t, "get", "crontabs")
		return err == nil, nil
	})
	framework.ExpectOutput(t, s.MustKubectl(t, "api-resources", "--api-group=stable.example.com"), "crontabs", "ct", "CronTab")

	cr := `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-cron
spec:
  cronSpec: "* * * * */5"
  image: my-cron-image
`
	out, err = s.KubectlWithInput(t, cr, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("apply CR: %v\n%s", err, out)
	}
	framework.ExpectOutput(t, out, "crontab.stable.example.com/my-cron created")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "ct", "my-cron", "-o", "jsonpath={.spec.replicas}/{.metadata.generation}"), "1/1")
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "crontabs"), "NAME", "SPEC", "REPLICAS", "AGE", "my-cron", "* * * * */5")
	if out, err := s.KubectlWithInput(t, cr, "apply", "-f", "-"); err != nil || !strings.Contains(out, "unchanged") {
		t.Fatalf("re-apply: %v\n%s", err, out)
	}

	// Validation from the schema: 422 with the field path.
	bad := strings.Replace(cr, "my-cron-image", "my-cron-image\n  replicas: 50", 1)
	out, err = s.KubectlWithInput(t, bad, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.replicas") {
		t.Fatalf("replicas over maximum accepted: %v\n%s", err, out)
	}
	// Unknown fields: kubectl's strict field validation rejects, --validate=false prunes.
	unknown := strings.Replace(cr, "my-cron-image", "my-cron-image\n  bogus: yes", 1)
	out, err = s.KubectlWithInput(t, unknown, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `unknown field "spec.bogus"`) {
		t.Fatalf("unknown field accepted under strict validation: %v\n%s", err, out)
	}
	if out, err := s.KubectlWithInput(t, unknown, "apply", "--validate=false", "-f", "-"); err != nil {
		t.Fatalf("apply --validate=false: %v\n%s", err, out)
	}
	if out := s.MustKubectl(t, "get", "ct", "my-cron", "-o", "jsonpath={.spec}"); strings.Contains(out, "bogus") {
		t.Fatalf("unknown field was stored:\n%s", out)
	}

	s.MustKubectl(t, "patch", "ct", "my-cron", "--type=merge", "-p", `{"spec":{"replicas":3}}`)
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "ct", "my-cron", "-o", "jsonpath={.spec.replicas}/{.metadata.generation}"), "3/2")
	if out, err := s.Kubectl(t, "patch", "ct", "my-cron", "--type=strategic", "-p", `{"spec":{"replicas":4}}`); err == nil {
		t.Fatalf("strategic merge patch on a custom resource succeeded:\n%s", out)
	}
	// The status subresource ignores spec changes and does not bump the generation.
	s.MustKubectl(t, "patch", "ct", "my-cron", "--subresource=status", "--type=merge", "-p", `{"status":{"phase":"Running"}}`)
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "ct", "my-cron", "-o", "jsonpath={.status.phase}/{.metadata.generation}"), "Running/2")

	// The other served version reads the same object.
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "crontabs.v1beta1.stable.example.com", "my-cron", "-o", "jsonpath={.apiVersion}"), "stable.example.com/v1beta1")

	ssa := `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: applied
spec:
  cronSpec: "*/5 * * * *"
  image: other
`
	out, err = s.KubectlWithInput(t, ssa, "apply", "--server-side", "-f", "-")
	if err != nil {
		t.Fatalf("server-side apply: %v\n%s", err, out)
	}
	framework.ExpectOutput(t, s.MustKubectl(t, "get", "ct", "applied", "-o", "jsonpath={.metadata.managedFields[0].manager}"), "kubectl")

	// Deleting the CRD stops serving it and removes its objects.
	s.MustKubectl(t, "delete", "crd", "crontabs.stable.example.com")
	framework.Eventually(t, 20*time.Second, "crontabs gone", func() (bool, error) {
		_, err := s.Kubectl(t, "get", "crontabs")
		return err != nil, nil
	})
	out, err = s.KubectlWithInput(t, crontabCRD, "apply", "-f", "-")
	if err != nil {
		t.Fatalf("re-create CRD: %v\n%s", err, out)
	}
	framework.Eventually(t, 20*time.Second, "crontabs served again, empty", func() (bool, error) {
		out, err := s.Kubectl(t, "get", "crontabs", "-A", "-o", "name")
		return err == nil && strings.TrimSpace(out) == "", nil
	})
}
