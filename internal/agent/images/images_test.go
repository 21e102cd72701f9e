package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/skiff-sh/skiff/internal/agent/containerd"
	"github.com/skiff-sh/skiff/internal/agent/images/ociarchive"
)

// dockerArchive writes a `docker save`-style tarball with one layer.
func dockerArchive(t *testing.T, tag string) []byte {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	_ = lw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	_, _ = lw.Write([]byte("hello"))
	_ = lw.Close()
	sum := sha256.Sum256(layer.Bytes())
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/hello"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	csum := sha256.Sum256(config)
	configName := hex.EncodeToString(csum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{tag}, "Layers": []string{"layer/layer.tar"}}})
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{{"manifest.json", manifest}, {configName, config}, {"layer/layer.tar", layer.Bytes()}} {
		_ = tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(f.data)
	}
	_ = tw.Close()
	return out.Bytes()
}

// TestImportIntoContainerd imports OCI and docker archives into a private
// containerd and lists them, as `skiff image import|ls` do.
func TestImportIntoContainerd(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Skip("containerd is not installed (run hack/setup.sh)")
	}
	dataDir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := containerd.Start(ctx, containerd.Config{
		Dir: filepath.Join(dataDir, "containerd"), SandboxImage: PauseImage, CNIBinDir: "/usr/lib/cni", CNIConfDir: filepath.Join(dataDir, "net.d"),
	}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-d.Done() }()
	if d.Address() != SocketPath(dataDir) {
		t.Fatalf("socket %s, images look at %s", d.Address(), SocketPath(dataDir))
	}

	store, err := Open(ctx, d.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsurePause(ctx, PauseImage); err != nil {
		t.Fatal(err)
	}

	// An OCI archive through the auto-import folder, a docker archive through Import.
	auto := AutoImportDir(dataDir)
	_ = os.MkdirAll(auto, 0o755)
	f, _ := os.Create(filepath.Join(auto, "app.tar"))
	if err := ociarchive.Write(f, ociarchive.Image{Ref: "docker.io/library/app:1", Architecture: runtime.GOARCH,
		Files: []ociarchive.File{{Path: "/app", Mode: 0o755, Data: []byte("#!/bin/true\n")}}}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	names, err := store.ImportDir(ctx, auto)
	if err != nil || len(names) != 1 || names[0] != "docker.io/library/app:1" {
		t.Fatalf("auto-import: %v %v", names, err)
	}
	if again, _ := store.ImportDir(ctx, auto); len(again) != 0 {
		t.Errorf("an unchanged file is imported again: %v", again)
	}
	docker := filepath.Join(t.TempDir(), "docker.tar")
	_ = os.WriteFile(docker, dockerArchive(t, "hello:v2"), 0o644)
	if err := Import(ctx, dataDir, docker); err != nil {
		t.Fatal(err)
	}

	list, err := List(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, img := range list {
		got[img.Name] = true
		if img.Digest == "" || img.Size <= 0 {
			t.Errorf("image %+v lacks digest or size", img)
		}
	}
	for _, want := range []string{PauseImage, "docker.io/library/app:1", "docker.io/library/hello:v2"} {
		if !got[want] {
			t.Errorf("image %s not listed: %v", want, list)
		}
	}
	if err := Import(ctx, t.TempDir(), docker); err == nil {
		t.Error("importing into a data dir without a running agent must fail")
	}
}
