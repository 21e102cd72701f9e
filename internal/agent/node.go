package agent

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// KubeletVersion is what the node reports as its kubelet version.
const KubeletVersion = "v1.37.2-skiff"

// leaseNamespace holds the nodes' heartbeat Leases.
const leaseNamespace = "kube-node-lease"

// MaxPods is the pods capacity of a node, upstream's default.
const MaxPods = 110

// machine is what the node reports about this host.
type machine struct {
	cpus           int
	memoryBytes    int64
	storageBytes   int64
	kernel         string
	osImage        string
	machineID      string
	bootID         string
	systemUUID     string
	runtimeVersion string
}

func readMachine(dataDir, runtimeVersion string) machine {
	m := machine{cpus: runtime.NumCPU(), runtimeVersion: runtimeVersion}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) >= 2 && fields[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(fields[1], 10, 64)
				m.memoryBytes = kb * 1024
			}
		}
		f.Close()
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(dataDir, &fs) == nil {
		m.storageBytes = int64(fs.Blocks) * int64(fs.Bsize)
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.kernel = charsToString(u.Release[:])
	}
	m.osImage = "Linux"
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.osImage = strings.Trim(v, `"`)
			}
		}
	}
	m.machineID = readTrim("/etc/machine-id")
	m.bootID = readTrim("/proc/sys/kernel/random/boot_id")
	m.systemUUID = readTrim("/sys/class/dmi/id/product_uuid")
	return m
}

func charsToString(cs []int8) string {
	b := make([]byte, 0, len(cs))
	for _, c := range cs {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func readTrim(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

func (m machine) capacity() v1.ResourceList {
	return v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(m.cpus), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(m.memoryBytes, resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(MaxPods, resource.DecimalSI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(m.storageBytes, resource.BinarySI),
	}
}

// nodeObject builds the Node the agent registers.
func (a *Agent) nodeObject() *v1.Node {
	labels := map[string]string{
		"kubernetes.io/hostname":   a.opts.NodeName,
		"kubernetes.io/os":         runtime.GOOS,
		"kubernetes.io/arch":       runtime.GOARCH,
		"beta.kubernetes.io/os":    runtime.GOOS,
		"beta.kubernetes.io/arch":  runtime.GOARCH,
		"node.kubernetes.io/agent": "skiff",
	}
	for k, v := range a.opts.Labels {
		labels[k] = v
	}
	node := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Labels: labels},
		Spec:       v1.NodeSpec{Taints: a.opts.Taints},
	}
	node.Status = a.nodeStatus(nil)
	return node
}

// nodeStatus is the node's current status; conditions keep their
// transition times from prev.
func (a *Agent) nodeStatus(prev *v1.Node) v1.NodeStatus {
	now := metav1.Now()
	cap := a.machine.capacity()
	ready, reason, msg := a.readiness()
	cond := func(t v1.NodeConditionType, ok bool, goodReason, badReason, message string) v1.NodeCondition {
		c := v1.NodeCondition{Type: t, LastHeartbeatTime: now, LastTransitionTime: now}
		if ok {
			c.Status, c.Reason, c.Message = v1.ConditionTrue, goodReason, message
		} else {
			c.Status, c.Reason, c.Message = v1.ConditionFalse, badReason, message
		}
		if prev != nil {
			for _, p := range prev.Status.Conditions {
				if p.Type == t && p.Status == c.Status {
					c.LastTransitionTime = p.LastTransitionTime
				}
			}
		}
		return c
	}
	return v1.NodeStatus{
		Capacity:    cap,
		Allocatable: cap.DeepCopy(),
		Phase:       v1.NodeRunning,
		Conditions: []v1.NodeCondition{
			cond(v1.NodeMemoryPressure, false, "", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
			cond(v1.NodeDiskPressure, false, "", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
			cond(v1.NodePIDPressure, false, "", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
			cond(v1.NodeReady, ready, "KubeletReady", reason, msg),
		},
		Addresses: []v1.NodeAddress{
			{Type: v1.NodeInternalIP, Address: a.opts.NodeIP},
			{Type: v1.NodeHostName, Address: a.hostname},
		},
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: int32(a.opts.ListenPort)}},
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               a.machine.machineID,
			SystemUUID:              a.machine.systemUUID,
			BootID:                  a.machine.bootID,
			KernelVersion:           a.machine.kernel,
			OSImage:                 a.machine.osImage,
			ContainerRuntimeVersion: a.machine.runtimeVersion,
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
		},
	}
}

// readiness is the Ready condition: the runtime answers and the pod
// network is configured.
func (a *Agent) readiness() (bool, string, string) {
	if !a.networkReady.Load() {
		return false, "KubeletNotReady", "container runtime network not ready: waiting for the node's pod CIDR"
	}
	if a.runtimeDown.Load() {
		return false, "KubeletNotReady", "container runtime is down"
	}
	return true, "KubeletReady", "kubelet is posting ready status"
}

// register creates the Node, or updates an existing one's labels and status.
func (a *Agent) register(ctx context.Context) (*v1.Node, error) {
	nodes := a.client.CoreV1().Nodes()
	for {
		want := a.nodeObject()
		created, err := nodes.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			// Status is a subresource: write it separately.
			created.Status = want.Status
			if updated, err := nodes.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err == nil {
				return updated, nil
			}
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			a.log.Warn("register node", "err", err)
			time.Sleep(time.Second)
			continue
		}
		existing, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get node: %w", err)
		}
		changed := false
		if existing.Labels == nil {
			existing.Labels = map[string]string{}
		}
		for k, v := range want.Labels {
			if existing.Labels[k] != v {
				existing.Labels[k] = v
				changed = true
			}
		}
		if changed {
			if existing, err = nodes.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				if apierrors.IsConflict(err) {
					continue
				}
				return nil, fmt.Errorf("update node: %w", err)
			}
		}
		existing.Status = a.nodeStatus(existing)
		updated, err := nodes.UpdateStatus(ctx, existing, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update node status: %w", err)
		}
		return updated, nil
	}
}

// waitPodCIDR waits until the server has given the node a pod CIDR.
func (a *Agent) waitPodCIDR(ctx context.Context) (string, error) {
	logged := time.Now()
	for {
		node, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			return node.Spec.PodCIDR, nil
		}
		if time.Since(logged) > 10*time.Second {
			a.log.Info("waiting for the server to assign this node a pod CIDR", "node", a.opts.NodeName)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// reportStatus keeps the Node's status current: at once when it changes,
// and at least every statusReportPeriod as a heartbeat.
func (a *Agent) reportStatus(ctx context.Context) {
	const checkPeriod = 10 * time.Second
	const statusReportPeriod = time.Minute
	var lastReport time.Time
	var last v1.NodeStatus
	t := time.NewTicker(checkPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.statusKick:
		}
		node, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := a.register(ctx); err != nil {
				a.log.Warn("re-register node", "err", err)
			}
			continue
		}
		if err != nil {
			continue
		}
		status := a.nodeStatus(node)
		if time.Since(lastReport) < statusReportPeriod && sameStatus(last, status) {
			continue
		}
		node.Status = status
		if _, err := a.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			a.log.Warn("update node status", "err", err)
			continue
		}
		last, lastReport = status, time.Now()
	}
}

// sameStatus compares statuses ignoring heartbeat times.
func sameStatus(a, b v1.NodeStatus) bool {
	strip := func(s v1.NodeStatus) v1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return s
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

// heartbeat renews the node's Lease every renewInterval.
func heartbeat(ctx context.Context, client kubernetes.Interface, node *v1.Node, log interface{ Warn(string, ...any) }) {
	const renewInterval = 10 * time.Second
	const leaseDuration = int32(40)
	leases := client.CoordinationV1().Leases(leaseNamespace)
	for {
		now := metav1.NewMicroTime(time.Now())
		lease, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			holder := node.Name
			duration := leaseDuration
			_, err = leases.Create(ctx, &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{
					Name:      node.Name,
					Namespace: leaseNamespace,
					OwnerReferences: []metav1.OwnerReference{{
						APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID,
					}},
				},
				Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration, RenewTime: &now},
			}, metav1.CreateOptions{})
			if apierrors.IsNotFound(err) {
				// The lease namespace is missing: make it.
				_, _ = client.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}}, metav1.CreateOptions{})
			}
		case err == nil:
			lease.Spec.RenewTime = &now
			holder := node.Name
			lease.Spec.HolderIdentity = &holder
			_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("renew node lease", "err", err)
		}
		wait := renewInterval
		if err != nil {
			wait = time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// defaultNodeIP is the first IPv4 address of the interface holding the
// default route (or of any up, non-loopback interface).
func defaultNodeIP() (string, error) {
	if data, err := os.ReadFile("/proc/net/route"); err == nil {
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 2 && f[1] == "00000000" {
				if ip := ifaceIPv4(f[0]); ip != "" {
					return ip, nil
				}
			}
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", fmt.Errorf("list interfaces: %w", err)
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ip := ifaceIPv4(iface.Name); ip != "" {
			return ip, nil
		}
	}
	return "", fmt.Errorf("no IPv4 address found; pass the node IP")
}

func ifaceIPv4(name string) string {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, _ := iface.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			return ipn.IP.String()
		}
	}
	return ""
}
