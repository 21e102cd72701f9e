package cni

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
)

// SetupHost prepares the node for pod traffic: IP forwarding on, pod
// traffic accepted in FORWARD, and traffic from this node's pods to
// addresses outside the cluster CIDR masqueraded behind the node.
// It is idempotent. The rules live in chains of the bridge's own (see
// hostChains), so two pod networks on one machine (a test cluster beside a
// real one) do not rebuild away each other's.
func SetupHost(podCIDR, clusterCIDR, bridge string) error {
	forward, postrouting := hostChains(bridge)
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	rules := []struct {
		table, chain, parent string
		rules                [][]string
	}{
		{"filter", forward, "FORWARD", [][]string{
			{"-s", clusterCIDR, "-m", "comment", "--comment", "skiff pod traffic", "-j", "ACCEPT"},
			{"-d", clusterCIDR, "-m", "comment", "--comment", "skiff pod traffic", "-j", "ACCEPT"},
		}},
		{"nat", postrouting, "POSTROUTING", [][]string{
			{"-s", podCIDR, "!", "-d", clusterCIDR, "-m", "comment", "--comment", "skiff pods to outside the cluster", "-j", "MASQUERADE"},
		}},
	}
	for _, r := range rules {
		if err := iptables("-t", r.table, "-n", "-L", r.chain); err != nil {
			if err := iptables("-t", r.table, "-N", r.chain); err != nil {
				return err
			}
		}
		if err := iptables("-t", r.table, "-C", r.parent, "-j", r.chain); err != nil {
			if err := iptables("-t", r.table, "-I", r.parent, "-j", r.chain); err != nil {
				return err
			}
		}
		// Rebuild the chain's rules: the pod CIDR may have changed.
		if err := iptables("-t", r.table, "-F", r.chain); err != nil {
			return err
		}
		for _, rule := range r.rules {
			if err := iptables(append([]string{"-t", r.table, "-A", r.chain}, rule...)...); err != nil {
				return err
			}
		}
	}
	return nil
}

// hostChains names the iptables chains of a pod network: SKIFF-FORWARD and
// SKIFF-POSTROUTING for the default bridge, the bridge's name after a
// shorter prefix for others (chain names stop at 28 characters, bridge
// names at 15).
func hostChains(bridge string) (forward, postrouting string) {
	if bridge == "" || bridge == DefaultBridge {
		return "SKIFF-FORWARD", "SKIFF-POSTROUTING"
	}
	return "SKIFF-FWD-" + bridge, "SKIFF-POST-" + bridge
}

func iptables(args ...string) error {
	out, err := exec.Command("iptables", append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ResetBridge removes IPv4 addresses from an existing pod bridge that do
// not belong to podCIDR (left by an earlier cluster or pod CIDR), which the
// bridge plugin would otherwise refuse to work with.
func ResetBridge(bridge, podCIDR string) error {
	_, subnet, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return fmt.Errorf("pod CIDR %q: %w", podCIDR, err)
	}
	out, err := exec.Command("ip", "-o", "-4", "addr", "show", "dev", bridge).Output()
	if err != nil {
		return nil // no bridge yet: the plugin creates it
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] != "inet" {
				continue
			}
			ip, _, err := net.ParseCIDR(f[i+1])
			if err != nil || subnet.Contains(ip) {
				continue
			}
			if out, err := exec.Command("ip", "addr", "del", f[i+1], "dev", bridge).CombinedOutput(); err != nil {
				return fmt.Errorf("remove stale address %s from %s: %w: %s", f[i+1], bridge, err, strings.TrimSpace(string(out)))
			}
		}
	}
	return nil
}
