package containerd

import (
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	cfg := Config{Dir: "/data/containerd", SandboxImage: "registry.skiff.local/pause:1", CNIBinDir: "/usr/lib/cni", CNIConfDir: "/data/cni/net.d"}
	out := Render(cfg)
	for _, want := range []string{
		`version = 2`,
		`root = "/data/containerd/root"`,
		`state = "/data/containerd/state"`,
		`address = "/data/containerd/containerd.sock"`,
		`sandbox_image = "registry.skiff.local/pause:1"`,
		// Facts of the target machines: without these every sandbox fails.
		`restrict_oom_score_adj = true`,
		`SystemdCgroup = false`,
		`snapshotter = "overlayfs"`,
		`stream_server_address = "127.0.0.1"`,
		`stream_server_port = "0"`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/data/cni/net.d"`,
		`level = "warn"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config lacks %q:\n%s", want, out)
		}
	}
	if cfg.Address() != "/data/containerd/containerd.sock" {
		t.Errorf("address %s", cfg.Address())
	}
	cfg.StreamPort, cfg.LogLevel = "10010", "debug"
	out = Render(cfg)
	if !strings.Contains(out, `stream_server_port = "10010"`) || !strings.Contains(out, `level = "debug"`) {
		t.Errorf("overrides not rendered:\n%s", out)
	}
}
