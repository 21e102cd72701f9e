// Package testimage builds skiff's test image: the static program in ./app
// in a FROM-scratch layer, written as an OCI archive, so tests and
// benchmarks run real containers with no registry.
package testimage

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/skiff-sh/skiff/internal/agent/images/ociarchive"
)

// Ref is the test image's name.
const Ref = "docker.io/skiff/testapp:1"

// tools are the names the program also answers to, linked in /bin.
var tools = []string{"sh", "cat", "echo", "sleep", "hostname", "env", "touch", "rm", "ls", "id", "write", "wget", "exit", "memhog", "serve", "tar", "spam", "hang"}

// Build compiles the app (needs the Go toolchain, as tests do) and writes
// the image as an OCI archive to out.
func Build(ctx context.Context, out string) error {
	dir, err := os.MkdirTemp("", "skiff-testimage")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "testapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "github.com/skiff-sh/skiff/internal/agent/testimage/app")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build test app: %w: %s", err, strings.TrimSpace(string(out)))
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("read test app: %w", err)
	}
	files := []ociarchive.File{
		{Path: "/bin/testapp", Mode: 0o755, Data: data},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	for _, t := range tools {
		files = append(files, ociarchive.File{Path: "/bin/" + t, Symlink: "testapp"})
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	defer f.Close()
	if err := ociarchive.Write(f, ociarchive.Image{
		Ref:          Ref,
		Architecture: runtime.GOARCH,
		Entrypoint:   []string{"/bin/testapp"},
		Cmd:          []string{"serve"},
		Env:          []string{"PATH=/bin"},
		Files:        files,
	}); err != nil {
		return err
	}
	return f.Close()
}
