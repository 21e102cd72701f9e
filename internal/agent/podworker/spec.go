package podworker

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/envvar"
	"github.com/skiff-sh/skiff/internal/agent/podstatus"
)

// Labels and annotations the agent puts on sandboxes and containers; they
// are upstream's keys, so a restarted agent (or crictl) can tell which pod
// and which container spec a runtime object belongs to.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	LabelManagedBy     = "io.skiff.managed"

	AnnotationHash                     = "io.kubernetes.container.hash"
	AnnotationRestartCount             = "io.kubernetes.container.restartCount"
	AnnotationTerminationMessagePath   = "io.kubernetes.container.terminationMessagePath"
	AnnotationTerminationMessagePolicy = "io.kubernetes.container.terminationMessagePolicy"
	AnnotationGracePeriod              = "io.kubernetes.pod.terminationGracePeriod"
	AnnotationPreStop                  = "io.kubernetes.container.preStopHandler"
	AnnotationInit                     = "io.skiff.container.init"
)

// DNS is the cluster DNS configuration pods get with dnsPolicy ClusterFirst.
type DNS struct {
	Servers       []string // the cluster DNS service IP(s)
	ClusterDomain string   // "cluster.local"
	// HostSearches and HostServers come from the node's resolv.conf (for
	// dnsPolicy Default and as extra search domains).
	HostServers  []string
	HostSearches []string
	HostOptions  []string
}

// SandboxOptions are the node-level inputs of a sandbox config.
type SandboxOptions struct {
	LogRoot    string // <data-dir>/logs
	CgroupRoot string // "/kubepods"
	DNS        DNS
}

// PodLogDir is the folder of a pod's container logs.
func PodLogDir(root string, pod *v1.Pod) string {
	return filepath.Join(root, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// CgroupParent is the pod's cgroup under the QoS class folder, as upstream
// lays it out with the cgroupfs driver.
func CgroupParent(root string, pod *v1.Pod) string {
	qos := podstatus.QOSClass(pod)
	name := "pod" + string(pod.UID)
	switch qos {
	case v1.PodQOSGuaranteed:
		return root + "/" + name
	case v1.PodQOSBestEffort:
		return root + "/besteffort/" + name
	default:
		return root + "/burstable/" + name
	}
}

// Hostname is the pod's hostname: spec.hostname or the pod name, cut to 63
// characters without trailing '-' or '.'.
func Hostname(pod *v1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// SandboxConfig builds the CRI sandbox config of pod.
func SandboxConfig(pod *v1.Pod, attempt uint32, o SandboxOptions) *criapi.PodSandboxConfig {
	labels := map[string]string{}
	for k, v := range pod.Labels {
		labels[k] = v
	}
	labels[LabelPodName] = pod.Name
	labels[LabelPodNamespace] = pod.Namespace
	labels[LabelPodUID] = string(pod.UID)
	labels[LabelManagedBy] = "true"
	annotations := map[string]string{}
	for k, v := range pod.Annotations {
		annotations[k] = v
	}
	cfg := &criapi.PodSandboxConfig{
		Metadata:     &criapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		LogDirectory: PodLogDir(o.LogRoot, pod),
		Labels:       labels,
		Annotations:  annotations,
		DnsConfig:    dnsConfig(pod, o.DNS),
		Linux: &criapi.LinuxPodSandboxConfig{
			CgroupParent:    CgroupParent(o.CgroupRoot, pod),
			SecurityContext: sandboxSecurity(pod),
		},
	}
	if !pod.Spec.HostNetwork {
		cfg.Hostname = Hostname(pod)
	}
	if sc := pod.Spec.SecurityContext; sc != nil && len(sc.Sysctls) > 0 {
		cfg.Linux.Sysctls = map[string]string{}
		for _, s := range sc.Sysctls {
			cfg.Linux.Sysctls[s.Name] = s.Value
		}
	}
	for _, c := range allContainers(pod) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &criapi.PortMapping{
				Protocol:      protocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return cfg
}

func protocol(p v1.Protocol) criapi.Protocol {
	switch p {
	case v1.ProtocolUDP:
		return criapi.Protocol_UDP
	case v1.ProtocolSCTP:
		return criapi.Protocol_SCTP
	default:
		return criapi.Protocol_TCP
	}
}

func namespaceOptions(pod *v1.Pod) *criapi.NamespaceOption {
	ns := &criapi.NamespaceOption{Network: criapi.NamespaceMode_POD, Pid: criapi.NamespaceMode_CONTAINER, Ipc: criapi.NamespaceMode_POD}
	if pod.Spec.HostNetwork {
		ns.Network = criapi.NamespaceMode_NODE
	}
	if pod.Spec.HostIPC {
		ns.Ipc = criapi.NamespaceMode_NODE
	}
	switch {
	case pod.Spec.HostPID:
		ns.Pid = criapi.NamespaceMode_NODE
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		ns.Pid = criapi.NamespaceMode_POD
	}
	return ns
}

func sandboxSecurity(pod *v1.Pod) *criapi.LinuxSandboxSecurityContext {
	sc := &criapi.LinuxSandboxSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	for _, c := range allContainers(pod) {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			sc.Privileged = true
		}
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &criapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &criapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = supplementalGroups(psc)
	}
	return sc
}

func supplementalGroups(psc *v1.PodSecurityContext) []int64 {
	if psc == nil {
		return nil
	}
	groups := append([]int64(nil), psc.SupplementalGroups...)
	if psc.FSGroup != nil {
		groups = append(groups, *psc.FSGroup)
	}
	return groups
}

// dnsConfig applies the pod's dnsPolicy and dnsConfig.
func dnsConfig(pod *v1.Pod, d DNS) *criapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = v1.DNSClusterFirst
	}
	if policy == v1.DNSClusterFirst && pod.Spec.HostNetwork {
		policy = v1.DNSDefault // ClusterFirst means Default for host-network pods
	}
	if policy == v1.DNSClusterFirstWithHostNet {
		policy = v1.DNSClusterFirst
	}
	cfg := &criapi.DNSConfig{}
	switch policy {
	case v1.DNSClusterFirst:
		if len(d.Servers) == 0 {
			cfg.Servers, cfg.Searches, cfg.Options = d.HostServers, d.HostSearches, d.HostOptions
			break
		}
		domain := d.ClusterDomain
		if domain == "" {
			domain = "cluster.local"
		}
		cfg.Servers = d.Servers
		cfg.Searches = append([]string{pod.Namespace + ".svc." + domain, "svc." + domain, domain}, d.HostSearches...)
		cfg.Options = []string{"ndots:5"}
	case v1.DNSDefault:
		cfg.Servers, cfg.Searches, cfg.Options = d.HostServers, d.HostSearches, d.HostOptions
	case v1.DNSNone:
	}
	if pc := pod.Spec.DNSConfig; pc != nil {
		cfg.Servers = dedupe(append(cfg.Servers, pc.Nameservers...))
		cfg.Searches = dedupe(append(cfg.Searches, pc.Searches...))
		opts := map[string]string{}
		var order []string
		for _, o := range cfg.Options {
			k, v, _ := strings.Cut(o, ":")
			if _, ok := opts[k]; !ok {
				order = append(order, k)
			}
			opts[k] = v
		}
		for _, o := range pc.Options {
			if _, ok := opts[o.Name]; !ok {
				order = append(order, o.Name)
			}
			opts[o.Name] = ""
			if o.Value != nil {
				opts[o.Name] = *o.Value
			}
		}
		cfg.Options = nil
		for _, k := range order {
			if opts[k] == "" {
				cfg.Options = append(cfg.Options, k)
			} else {
				cfg.Options = append(cfg.Options, k+":"+opts[k])
			}
		}
	}
	if len(cfg.Searches) > 32 {
		cfg.Searches = cfg.Searches[:32]
	}
	if len(cfg.Servers) > 3 {
		cfg.Servers = cfg.Servers[:3]
	}
	return cfg
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ContainerOptions are the per-run inputs of a container config.
type ContainerOptions struct {
	RestartCount int32
	Env          []envvar.Var
	Mounts       []*criapi.Mount
	// Image is the image to run (its ID once present on the node).
	Image string
	// MemoryCapacity is the node's memory, for the OOM score of burstable pods.
	MemoryCapacity int64
	Init           bool
}

// ContainerConfig builds the CRI config of one run of container c.
func ContainerConfig(pod *v1.Pod, c *v1.Container, o ContainerOptions) *criapi.ContainerConfig {
	envs := make([]*criapi.KeyValue, len(o.Env))
	for i, e := range o.Env {
		envs[i] = &criapi.KeyValue{Key: e.Name, Value: []byte(e.Value)}
	}
	grace := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = *pod.Spec.TerminationGracePeriodSeconds
	}
	annotations := map[string]string{
		AnnotationHash:                     Hash(c),
		AnnotationRestartCount:             strconv.Itoa(int(o.RestartCount)),
		AnnotationTerminationMessagePath:   c.TerminationMessagePath,
		AnnotationTerminationMessagePolicy: string(c.TerminationMessagePolicy),
		AnnotationGracePeriod:              strconv.FormatInt(grace, 10),
	}
	if o.Init {
		annotations[AnnotationInit] = "true"
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if b, err := json.Marshal(c.Lifecycle.PreStop); err == nil {
			annotations[AnnotationPreStop] = string(b)
		}
	}
	return &criapi.ContainerConfig{
		Metadata:    &criapi.ContainerMetadata{Name: c.Name, Attempt: uint32(o.RestartCount)},
		Image:       &criapi.ImageSpec{Image: o.Image, UserSpecifiedImage: c.Image},
		Command:     envvar.ExpandAll(c.Command, o.Env),
		Args:        envvar.ExpandAll(c.Args, o.Env),
		WorkingDir:  c.WorkingDir,
		Envs:        envs,
		Mounts:      o.Mounts,
		Labels:      map[string]string{LabelPodName: pod.Name, LabelPodNamespace: pod.Namespace, LabelPodUID: string(pod.UID), LabelContainerName: c.Name, LabelManagedBy: "true"},
		Annotations: annotations,
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(o.RestartCount))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &criapi.LinuxContainerConfig{
			Resources:       Resources(pod, c, o.MemoryCapacity),
			SecurityContext: containerSecurity(pod, c),
		},
	}
}

// Resources maps requests and limits to cgroup settings: cpu requests to
// shares, cpu limits to a CFS quota, memory limits to the memory limit.
func Resources(pod *v1.Pod, c *v1.Container, memoryCapacity int64) *criapi.LinuxContainerResources {
	const (
		minShares   = 2
		quotaPeriod = 100000 // 100 ms
		minQuota    = 1000
	)
	r := &criapi.LinuxContainerResources{}
	cpuReq := c.Resources.Requests.Cpu().MilliValue()
	if _, ok := c.Resources.Requests[v1.ResourceCPU]; !ok {
		if lim, ok := c.Resources.Limits[v1.ResourceCPU]; ok {
			cpuReq = lim.MilliValue() // a limit alone implies an equal request
		}
	}
	r.CpuShares = max(cpuReq*1024/1000, minShares)
	if lim, ok := c.Resources.Limits[v1.ResourceCPU]; ok {
		r.CpuPeriod = quotaPeriod
		r.CpuQuota = max(lim.MilliValue()*quotaPeriod/1000, minQuota)
	}
	if lim, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = lim.Value()
	}
	r.OomScoreAdj = oomScoreAdj(pod, c, memoryCapacity)
	return r
}

func oomScoreAdj(pod *v1.Pod, c *v1.Container, memoryCapacity int64) int64 {
	switch podstatus.QOSClass(pod) {
	case v1.PodQOSGuaranteed:
		return -997
	case v1.PodQOSBestEffort:
		return 1000
	}
	if memoryCapacity <= 0 {
		return 999
	}
	req := c.Resources.Requests.Memory().Value()
	adj := 1000 - (1000*req)/memoryCapacity
	return min(max(adj, 2), 999)
}

// defaultMaskedPaths and defaultReadonlyPaths hide host details in /proc
// and /sys from unprivileged containers, as upstream does.
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

func containerSecurity(pod *v1.Pod, c *v1.Container) *criapi.LinuxContainerSecurityContext {
	sc := &criapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(pod)}
	psc := pod.Spec.SecurityContext
	if psc != nil {
		if psc.RunAsUser != nil {
			sc.RunAsUser = &criapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &criapi.Int64Value{Value: *psc.RunAsGroup}
		}
		sc.SupplementalGroups = supplementalGroups(psc)
		if psc.SeccompProfile != nil {
			sc.Seccomp = seccomp(psc.SeccompProfile)
		}
	}
	csc := c.SecurityContext
	privileged := false
	unmasked := false
	if csc != nil {
		if csc.RunAsUser != nil {
			sc.RunAsUser = &criapi.Int64Value{Value: *csc.RunAsUser}
		}
		if csc.RunAsGroup != nil {
			sc.RunAsGroup = &criapi.Int64Value{Value: *csc.RunAsGroup}
		}
		if csc.Privileged != nil {
			privileged = *csc.Privileged
		}
		if csc.ReadOnlyRootFilesystem != nil {
			sc.ReadonlyRootfs = *csc.ReadOnlyRootFilesystem
		}
		if csc.AllowPrivilegeEscalation != nil {
			sc.NoNewPrivs = !*csc.AllowPrivilegeEscalation
		}
		if csc.Capabilities != nil {
			caps := &criapi.Capability{}
			for _, a := range csc.Capabilities.Add {
				caps.AddCapabilities = append(caps.AddCapabilities, capName(a))
			}
			for _, d := range csc.Capabilities.Drop {
				caps.DropCapabilities = append(caps.DropCapabilities, capName(d))
			}
			sc.Capabilities = caps
		}
		if csc.SeccompProfile != nil {
			sc.Seccomp = seccomp(csc.SeccompProfile)
		}
		if csc.ProcMount != nil && *csc.ProcMount == v1.UnmaskedProcMount {
			unmasked = true
		}
	}
	sc.Privileged = privileged
	if !privileged && !unmasked {
		sc.MaskedPaths = defaultMaskedPaths
		sc.ReadonlyPaths = defaultReadonlyPaths
	}
	return sc
}

// capName turns "NET_ADMIN" or "CAP_NET_ADMIN" into the runtime's name;
// "ALL" stays as is.
func capName(c v1.Capability) string {
	s := strings.ToUpper(string(c))
	if s == "ALL" || strings.HasPrefix(s, "CAP_") {
		return s
	}
	return "CAP_" + s
}

func seccomp(p *v1.SeccompProfile) *criapi.SecurityProfile {
	switch p.Type {
	case v1.SeccompProfileTypeRuntimeDefault:
		return &criapi.SecurityProfile{ProfileType: criapi.SecurityProfile_RuntimeDefault}
	case v1.SeccompProfileTypeLocalhost:
		if p.LocalhostProfile != nil {
			return &criapi.SecurityProfile{ProfileType: criapi.SecurityProfile_Localhost, LocalhostRef: *p.LocalhostProfile}
		}
	}
	return &criapi.SecurityProfile{ProfileType: criapi.SecurityProfile_Unconfined}
}

// Hash identifies a container spec: when it changes (a new image), the
// running container is replaced.
func Hash(c *v1.Container) string {
	b, _ := json.Marshal(c)
	h := fnv.New32a()
	h.Write(b)
	return strconv.FormatUint(uint64(h.Sum32()), 16)
}

// EtcHosts renders the pod's /etc/hosts.
func EtcHosts(pod *v1.Pod, podIPs []string, clusterDomain string) []byte {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")
	host := Hostname(pod)
	names := host
	if pod.Spec.Subdomain != "" {
		if clusterDomain == "" {
			clusterDomain = "cluster.local"
		}
		names = fmt.Sprintf("%s.%s.%s.svc.%s\t%s", host, pod.Spec.Subdomain, pod.Namespace, clusterDomain, host)
	}
	for _, ip := range podIPs {
		fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return []byte(b.String())
}

func allContainers(pod *v1.Pod) []v1.Container {
	out := make([]v1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	out = append(out, pod.Spec.InitContainers...)
	return append(out, pod.Spec.Containers...)
}
