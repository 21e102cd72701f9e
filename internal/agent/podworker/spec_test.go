package podworker

import (
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/agent/envvar"
)

func specPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "web", Image: "nginx:1.25"}}},
	}
}

var testDNS = DNS{Servers: []string{"10.43.0.10"}, ClusterDomain: "cluster.local", HostServers: []string{"8.8.8.8"}, HostSearches: []string{"corp.example"}}

func TestSandboxConfigDNS(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mutate   func(*v1.Pod)
		servers  []string
		searches []string
		options  []string
	}{
		{
			name:     "ClusterFirst",
			servers:  []string{"10.43.0.10"},
			searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
			options:  []string{"ndots:5"},
		},
		{
			name:     "Default uses the node's resolv.conf",
			mutate:   func(p *v1.Pod) { p.Spec.DNSPolicy = v1.DNSDefault },
			servers:  []string{"8.8.8.8"},
			searches: []string{"corp.example"},
		},
		{
			name:     "ClusterFirst on the host network means Default",
			mutate:   func(p *v1.Pod) { p.Spec.HostNetwork = true },
			servers:  []string{"8.8.8.8"},
			searches: []string{"corp.example"},
		},
		{
			name: "None with dnsConfig",
			mutate: func(p *v1.Pod) {
				p.Spec.DNSPolicy = v1.DNSNone
				p.Spec.DNSConfig = &v1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.b"}, Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}}}
			},
			servers:  []string{"1.1.1.1"},
			searches: []string{"a.b"},
			options:  []string{"ndots:2", "edns0"},
		},
		{
			name: "dnsConfig options override ClusterFirst's",
			mutate: func(p *v1.Pod) {
				p.Spec.DNSConfig = &v1.PodDNSConfig{Options: []v1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}}}
			},
			servers:  []string{"10.43.0.10"},
			searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
			options:  []string{"ndots:1"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := specPod()
			if tc.mutate != nil {
				tc.mutate(pod)
			}
			cfg := SandboxConfig(pod, 0, SandboxOptions{LogRoot: "/logs", CgroupRoot: "/kubepods", DNS: testDNS})
			d := cfg.DnsConfig
			if !reflect.DeepEqual(d.Servers, tc.servers) || !reflect.DeepEqual(d.Searches, tc.searches) || !reflect.DeepEqual(d.Options, tc.options) {
				t.Errorf("dns = %v %v %v, want %v %v %v", d.Servers, d.Searches, d.Options, tc.servers, tc.searches, tc.options)
			}
		})
	}
}

func TestSandboxConfig(t *testing.T) {
	pod := specPod()
	pod.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80, HostPort: 8080}, {ContainerPort: 53, HostPort: 5353, Protocol: v1.ProtocolUDP}, {ContainerPort: 9090}}
	pod.Spec.ShareProcessNamespace = ptr.To(true)
	pod.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr.To[int64](2000), SupplementalGroups: []int64{5}}
	cfg := SandboxConfig(pod, 2, SandboxOptions{LogRoot: "/logs", CgroupRoot: "/kubepods", DNS: testDNS})
	if cfg.Hostname != "web-1" || cfg.Metadata.Attempt != 2 || cfg.Metadata.Uid != "uid-1" {
		t.Errorf("metadata %+v hostname %q", cfg.Metadata, cfg.Hostname)
	}
	if cfg.LogDirectory != "/logs/shop_web-1_uid-1" {
		t.Errorf("log dir %s", cfg.LogDirectory)
	}
	if cfg.Linux.CgroupParent != "/kubepods/besteffort/poduid-1" {
		t.Errorf("cgroup parent %s", cfg.Linux.CgroupParent)
	}
	if cfg.Labels[LabelPodUID] != "uid-1" || cfg.Labels["app"] != "web" || cfg.Labels[LabelManagedBy] != "true" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if len(cfg.PortMappings) != 2 || cfg.PortMappings[1].Protocol != criapi.Protocol_UDP || cfg.PortMappings[0].HostPort != 8080 {
		t.Errorf("port mappings %v", cfg.PortMappings)
	}
	ns := cfg.Linux.SecurityContext.NamespaceOptions
	if ns.Pid != criapi.NamespaceMode_POD || ns.Network != criapi.NamespaceMode_POD {
		t.Errorf("namespaces %v", ns)
	}
	if !reflect.DeepEqual(cfg.Linux.SecurityContext.SupplementalGroups, []int64{5, 2000}) {
		t.Errorf("supplemental groups %v", cfg.Linux.SecurityContext.SupplementalGroups)
	}

	pod.Spec.HostNetwork = true
	pod.Spec.Hostname = strings.Repeat("a", 70)
	cfg = SandboxConfig(pod, 0, SandboxOptions{CgroupRoot: "/kubepods"})
	if cfg.Hostname != "" || cfg.Linux.SecurityContext.NamespaceOptions.Network != criapi.NamespaceMode_NODE {
		t.Errorf("host network: hostname %q ns %v", cfg.Hostname, cfg.Linux.SecurityContext.NamespaceOptions)
	}
	if h := Hostname(pod); len(h) != 63 {
		t.Errorf("hostname not cut to 63: %d", len(h))
	}
}

func TestContainerConfig(t *testing.T) {
	pod := specPod()
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](7)
	c := &pod.Spec.Containers[0]
	c.Command = []string{"/bin/app", "--name=$(NAME)"}
	c.Args = []string{"$(GREETING)", "$$(GREETING)"}
	c.Resources = v1.ResourceRequirements{
		Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m"), v1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m"), v1.ResourceMemory: resource.MustParse("128Mi")},
	}
	c.SecurityContext = &v1.SecurityContext{
		RunAsUser: ptr.To[int64](1000), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN"}, Drop: []v1.Capability{"ALL"}},
	}
	c.Lifecycle = &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"stop"}}}}
	env := []envvar.Var{{Name: "NAME", Value: "web"}, {Name: "GREETING", Value: "hi"}}
	cfg := ContainerConfig(pod, c, ContainerOptions{RestartCount: 3, Env: env, Image: "sha256:abc", MemoryCapacity: 1 << 30})

	if !reflect.DeepEqual(cfg.Command, []string{"/bin/app", "--name=web"}) || !reflect.DeepEqual(cfg.Args, []string{"hi", "$(GREETING)"}) {
		t.Errorf("command %q args %q", cfg.Command, cfg.Args)
	}
	if cfg.Metadata.Attempt != 3 || cfg.LogPath != "web/3.log" || cfg.Annotations[AnnotationRestartCount] != "3" {
		t.Errorf("attempt %d log %s annotations %v", cfg.Metadata.Attempt, cfg.LogPath, cfg.Annotations)
	}
	if cfg.Annotations[AnnotationGracePeriod] != "7" || !strings.Contains(cfg.Annotations[AnnotationPreStop], "stop") {
		t.Errorf("annotations %v", cfg.Annotations)
	}
	if cfg.Image.Image != "sha256:abc" || cfg.Image.UserSpecifiedImage != "nginx:1.25" {
		t.Errorf("image %+v", cfg.Image)
	}
	r := cfg.Linux.Resources
	if r.CpuShares != 256 || r.CpuQuota != 50000 || r.CpuPeriod != 100000 || r.MemoryLimitInBytes != 128<<20 {
		t.Errorf("resources %+v", r)
	}
	if r.OomScoreAdj < 2 || r.OomScoreAdj > 999 {
		t.Errorf("burstable oom score %d", r.OomScoreAdj)
	}
	sc := cfg.Linux.SecurityContext
	if sc.RunAsUser.GetValue() != 1000 || !sc.ReadonlyRootfs || !sc.NoNewPrivs || sc.Privileged {
		t.Errorf("security %+v", sc)
	}
	if !reflect.DeepEqual(sc.Capabilities.AddCapabilities, []string{"CAP_NET_ADMIN"}) || !reflect.DeepEqual(sc.Capabilities.DropCapabilities, []string{"ALL"}) {
		t.Errorf("capabilities %+v", sc.Capabilities)
	}
	if len(sc.MaskedPaths) == 0 || len(sc.ReadonlyPaths) == 0 {
		t.Error("unprivileged containers get masked and read-only /proc paths")
	}
	if string(cfg.Envs[0].Value) != "web" {
		t.Errorf("env %v", cfg.Envs)
	}

	c.SecurityContext = &v1.SecurityContext{Privileged: ptr.To(true)}
	c.Resources = v1.ResourceRequirements{}
	cfg = ContainerConfig(pod, c, ContainerOptions{})
	if !cfg.Linux.SecurityContext.Privileged || len(cfg.Linux.SecurityContext.MaskedPaths) != 0 {
		t.Error("privileged containers are not masked")
	}
	if cfg.Linux.Resources.CpuShares != 2 || cfg.Linux.Resources.CpuQuota != 0 || cfg.Linux.Resources.OomScoreAdj != 1000 {
		t.Errorf("best-effort resources %+v", cfg.Linux.Resources)
	}
}

func TestHashChangesWithImage(t *testing.T) {
	a := v1.Container{Name: "c", Image: "app:1"}
	b := a
	b.Image = "app:2"
	if Hash(&a) != Hash(&a) || Hash(&a) == Hash(&b) {
		t.Error("hash must be stable and change with the image")
	}
}

func TestEtcHosts(t *testing.T) {
	pod := specPod()
	pod.Spec.Hostname = "db-0"
	pod.Spec.Subdomain = "db"
	pod.Spec.HostAliases = []v1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"foo.local", "bar.local"}}}
	got := string(EtcHosts(pod, []string{"10.42.0.7"}, "cluster.local"))
	for _, want := range []string{"127.0.0.1\tlocalhost", "10.42.0.7\tdb-0.db.shop.svc.cluster.local\tdb-0", "10.1.1.1\tfoo.local\tbar.local"} {
		if !strings.Contains(got, want) {
			t.Errorf("/etc/hosts lacks %q:\n%s", want, got)
		}
	}
}

func TestShouldRestart(t *testing.T) {
	for _, tc := range []struct {
		policy v1.RestartPolicy
		code   int32
		want   bool
	}{
		{v1.RestartPolicyAlways, 0, true},
		{v1.RestartPolicyAlways, 1, true},
		{v1.RestartPolicyOnFailure, 0, false},
		{v1.RestartPolicyOnFailure, 137, true},
		{v1.RestartPolicyNever, 1, false},
	} {
		if got := shouldRestart(tc.policy, tc.code); got != tc.want {
			t.Errorf("shouldRestart(%s, %d) = %v", tc.policy, tc.code, got)
		}
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]v1.PullPolicy{
		"nginx":                   v1.PullAlways,
		"nginx:latest":            v1.PullAlways,
		"nginx:1.25":              v1.PullIfNotPresent,
		"registry.local:5000/a/b": v1.PullAlways,
		"busybox@sha256:" + strings.Repeat("a", 64): v1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}

func TestNeedsSync(t *testing.T) {
	base := specPod()
	base.Status.Phase = v1.PodPending
	for _, tc := range []struct {
		name   string
		mutate func(*v1.Pod)
		want   bool
	}{
		{"own status echo", func(p *v1.Pod) { p.Status.Phase = v1.PodRunning; p.ResourceVersion = "9" }, false},
		{"new image", func(p *v1.Pod) { p.Spec.Containers[0].Image = "nginx:1.26" }, true},
		{"deletion", func(p *v1.Pod) { now := metav1.Now(); p.DeletionTimestamp = &now }, true},
		{"label", func(p *v1.Pod) { p.Labels = map[string]string{"app": "other"} }, true},
		{"readiness gate condition", func(p *v1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, v1.PodCondition{Type: "example.com/gate", Status: v1.ConditionTrue})
		}, true},
		{"failed by someone else", func(p *v1.Pod) { p.Status.Phase = v1.PodFailed }, true},
	} {
		cur := base.DeepCopy()
		tc.mutate(cur)
		if got := needsSync(base, cur); got != tc.want {
			t.Errorf("%s: needsSync = %v, want %v", tc.name, got, tc.want)
		}
	}
}
