package cni

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		cidr, route string
		wantErr     bool
	}{
		{cidr: "10.42.3.0/24", route: "0.0.0.0/0"},
		{cidr: "fd00:42::/64", route: "::/0"},
		{cidr: "nonsense", wantErr: true},
	} {
		data, err := Render(Config{NetworkName: "skiff", Bridge: "skiff0", PodCIDR: tc.cidr, IPAMDataDir: "/data/ipam", MTU: 1450})
		if tc.wantErr {
			if err == nil {
				t.Errorf("%s: want an error", tc.cidr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var conf struct {
			CNIVersion string `json:"cniVersion"`
			Name       string `json:"name"`
			Plugins    []struct {
				Type         string          `json:"type"`
				Bridge       string          `json:"bridge"`
				IsGateway    bool            `json:"isGateway"`
				HairpinMode  bool            `json:"hairpinMode"`
				MTU          int             `json:"mtu"`
				Capabilities map[string]bool `json:"capabilities"`
				IPAM         struct {
					Type    string                `json:"type"`
					Ranges  [][]map[string]string `json:"ranges"`
					Routes  []map[string]string   `json:"routes"`
					DataDir string                `json:"dataDir"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		if err := json.Unmarshal(data, &conf); err != nil {
			t.Fatal(err)
		}
		if conf.Name != "skiff" || len(conf.Plugins) != 2 {
			t.Fatalf("conf %+v", conf)
		}
		br, pm := conf.Plugins[0], conf.Plugins[1]
		if br.Type != "bridge" || br.Bridge != "skiff0" || !br.IsGateway || !br.HairpinMode || br.MTU != 1450 {
			t.Errorf("bridge %+v", br)
		}
		if br.IPAM.Type != "host-local" || br.IPAM.Ranges[0][0]["subnet"] != tc.cidr || br.IPAM.Routes[0]["dst"] != tc.route || br.IPAM.DataDir != "/data/ipam" {
			t.Errorf("ipam %+v", br.IPAM)
		}
		if pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
			t.Errorf("portmap %+v", pm)
		}
	}
}

func TestWriteIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NetworkName: "skiff", Bridge: "skiff0", PodCIDR: "10.42.0.0/24", IPAMDataDir: "/x"}
	if err := Write(dir, cfg); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	before, _ := os.Stat(path)
	if err := Write(dir, cfg); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if !before.ModTime().Equal(after.ModTime()) {
		t.Error("an unchanged config must not be rewritten (containerd reloads on change)")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("conf dir holds %d files, want 1", len(entries))
	}
}

func TestHostChains(t *testing.T) {
	for _, tc := range []struct{ bridge, forward, postrouting string }{
		{"skiff0", "SKIFF-FORWARD", "SKIFF-POSTROUTING"},
		{"", "SKIFF-FORWARD", "SKIFF-POSTROUTING"},
		{"skiffe2e0", "SKIFF-FWD-skiffe2e0", "SKIFF-POST-skiffe2e0"},
		{"abcdefghijklmno", "SKIFF-FWD-abcdefghijklmno", "SKIFF-POST-abcdefghijklmno"}, // the longest bridge name
	} {
		f, p := hostChains(tc.bridge)
		if f != tc.forward || p != tc.postrouting {
			t.Errorf("hostChains(%q) = %s, %s; want %s, %s", tc.bridge, f, p, tc.forward, tc.postrouting)
		}
		if len(f) > 28 || len(p) > 28 {
			t.Errorf("hostChains(%q): a chain name over iptables' 28 characters", tc.bridge)
		}
	}
}
