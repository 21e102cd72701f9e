// Package cni writes the agent's pod network configuration: one bridge on
// the node's pod CIDR with host-local IP allocation and portmap for
// hostPorts (containerd's CRI plugin adds the loopback interface itself).
package cni

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
)

// Config is the node's pod network.
type Config struct {
	// NetworkName names the network (and host-local's allocation folder).
	NetworkName string
	// Bridge is the Linux bridge the pods' veths attach to.
	Bridge string
	// PodCIDR is this node's pod subnet (node.spec.podCIDR).
	PodCIDR string
	// IPAMDataDir is where host-local records allocations; under the
	// agent's data dir, so removing a pod's allocation is visible and local.
	IPAMDataDir string
	// MTU of the bridge and veths; 0 leaves the plugin's default.
	MTU int
}

// The pod network's defaults: the server's --cluster-cidr (split into a
// subnet per node) and the bridge each node's pods attach to.
const (
	DefaultClusterCIDR = "10.42.0.0/16"
	DefaultBridge      = "skiff0"
)

// FileName is the conflist's name inside the CNI conf dir.
const FileName = "10-skiff.conflist"

// Render returns the conflist JSON.
func Render(c Config) ([]byte, error) {
	_, subnet, err := net.ParseCIDR(c.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", c.PodCIDR, err)
	}
	defaultRoute := "0.0.0.0/0"
	if subnet.IP.To4() == nil {
		defaultRoute = "::/0"
	}
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      c.Bridge,
		"isGateway":   true,
		"ipMasq":      false, // the agent masquerades only traffic leaving the cluster CIDR
		"hairpinMode": true,  // a pod reaching itself through a Service IP
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": subnet.String()}}},
			"routes":  []map[string]string{{"dst": defaultRoute}},
			"dataDir": c.IPAMDataDir,
		},
	}
	if c.MTU > 0 {
		bridge["mtu"] = c.MTU
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       c.NetworkName,
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render CNI config: %w", err)
	}
	return append(out, '\n'), nil
}

// Write renders the conflist into confDir atomically (containerd watches the
// folder and must never read a half-written file).
func Write(confDir string, c Config) error {
	data, err := Render(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return fmt.Errorf("create CNI conf dir: %w", err)
	}
	path := filepath.Join(confDir, FileName)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := filepath.Join(confDir, "."+FileName+".tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	return nil
}

// FindPluginDir returns the first of dirs holding the plugins the conflist
// uses (Debian installs them in /usr/lib/cni; upstream in /opt/cni/bin).
func FindPluginDir(dirs ...string) (string, error) {
	if len(dirs) == 0 {
		dirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	for _, dir := range dirs {
		ok := true
		for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
			if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
				ok = false
				break
			}
		}
		if ok {
			return dir, nil
		}
	}
	return "", fmt.Errorf("CNI plugins bridge, host-local, portmap and loopback not found in %v (run hack/setup.sh)", dirs)
}
