// Package containerd starts and supervises the agent's private containerd:
// its config, root, state and sockets all live under the agent's data dir, so
// it never collides with a system containerd or with another agent.
package containerd

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Config says where the private containerd keeps its files and how its CRI
// plugin runs pods.
type Config struct {
	// Dir holds config.toml, root/, state/ and the sockets.
	Dir string
	// SandboxImage is the pause image's name; the agent imports it before
	// any pod starts, so containerd never tries to pull it.
	SandboxImage string
	// CNIBinDir holds the bridge, host-local, portmap and loopback plugins.
	CNIBinDir string
	// CNIConfDir is where the agent writes its conflist.
	CNIConfDir string
	// StreamPort is the CRI streaming server's port on 127.0.0.1; "0" picks a free one.
	StreamPort string
	// LogLevel is containerd's log level (default "warn").
	LogLevel string
}

// Address is the containerd gRPC socket, also the CRI endpoint.
func (c Config) Address() string { return filepath.Join(c.Dir, "containerd.sock") }

// ConfigPath is the rendered config.toml.
func (c Config) ConfigPath() string { return filepath.Join(c.Dir, "config.toml") }

// RootDir is containerd's persistent root (content store, snapshots, metadata).
func (c Config) RootDir() string { return filepath.Join(c.Dir, "root") }

// StateDir is containerd's runtime state.
func (c Config) StateDir() string { return filepath.Join(c.Dir, "state") }

// disabledPlugins are plugins the agent never uses; leaving them out saves
// memory and start time (and the snapshotters probe the host's filesystems).
var disabledPlugins = []string{
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing",
}

// Render returns config.toml (containerd 1.6, config version 2).
//
// Facts measured on the target machines shape it: root lacks
// CAP_SYS_RESOURCE, so restrict_oom_score_adj must be on or every sandbox
// fails inside runc; there is no systemd, so runc uses cgroupfs.
func Render(c Config) string {
	logLevel := c.LogLevel
	if logLevel == "" {
		logLevel = "warn"
	}
	port := c.StreamPort
	if port == "" {
		port = "0"
	}
	quoted := make([]string, len(disabledPlugins))
	for i, p := range disabledPlugins {
		quoted[i] = fmt.Sprintf("%q", p)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version = 2\n")
	fmt.Fprintf(&b, "root = %q\n", c.RootDir())
	fmt.Fprintf(&b, "state = %q\n", c.StateDir())
	fmt.Fprintf(&b, "disabled_plugins = [%s]\n\n", strings.Join(quoted, ", "))
	fmt.Fprintf(&b, "[grpc]\n  address = %q\n\n", c.Address())
	fmt.Fprintf(&b, "[ttrpc]\n  address = %q\n\n", c.Address()+".ttrpc")
	fmt.Fprintf(&b, "[debug]\n  level = %q\n\n", logLevel)
	fmt.Fprintf(&b, "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = %q\n\n", filepath.Join(c.Dir, "opt"))
	fmt.Fprintf(&b, "[plugins.\"io.containerd.grpc.v1.cri\"]\n")
	fmt.Fprintf(&b, "  sandbox_image = %q\n", c.SandboxImage)
	fmt.Fprintf(&b, "  restrict_oom_score_adj = true\n")
	fmt.Fprintf(&b, "  disable_apparmor = true\n")
	fmt.Fprintf(&b, "  enable_selinux = false\n")
	fmt.Fprintf(&b, "  stream_server_address = \"127.0.0.1\"\n")
	fmt.Fprintf(&b, "  stream_server_port = %q\n", port)
	fmt.Fprintf(&b, "  enable_tls_streaming = false\n")
	fmt.Fprintf(&b, "  tolerate_missing_hugetlb_controller = true\n")
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n")
	fmt.Fprintf(&b, "    snapshotter = \"overlayfs\"\n")
	fmt.Fprintf(&b, "    default_runtime_name = \"runc\"\n")
	fmt.Fprintf(&b, "    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n")
	fmt.Fprintf(&b, "      runtime_type = \"io.containerd.runc.v2\"\n")
	fmt.Fprintf(&b, "      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n")
	fmt.Fprintf(&b, "        SystemdCgroup = false\n")
	fmt.Fprintf(&b, "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n")
	fmt.Fprintf(&b, "    bin_dir = %q\n", c.CNIBinDir)
	fmt.Fprintf(&b, "    conf_dir = %q\n", c.CNIConfDir)
	fmt.Fprintf(&b, "    max_conf_num = 1\n")
	return b.String()
}
