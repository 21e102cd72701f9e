// Package images puts images into the agent's containerd without a
// registry: `skiff image import` of OCI-layout or docker-archive tarballs, the
// auto-import folder read at agent start, and the project-built pause image.
package images

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"

	"github.com/skiff-sh/skiff/internal/agent/images/ociarchive"
	"github.com/skiff-sh/skiff/internal/agent/pause"
)

// Namespace is containerd's namespace for CRI: images must be there for
// pods to see them.
const Namespace = "k8s.io"

// Snapshotter is the snapshotter the agent's containerd uses for pods.
const Snapshotter = "overlayfs"

// PauseImage is the sandbox image name configured in the agent's
// containerd; the agent imports the project-built pause program under it.
const PauseImage = "registry.skiff.local/pause:1"

// Image is one image in the agent's containerd.
type Image struct {
	Name   string
	Digest string
	Size   int64
}

// SocketPath is the containerd socket of the agent using dataDir.
func SocketPath(dataDir string) string {
	return filepath.Join(dataDir, "containerd", "containerd.sock")
}

// AutoImportDir is the folder whose tarballs the agent imports at start.
func AutoImportDir(dataDir string) string { return filepath.Join(dataDir, "images") }

// Import imports an OCI-layout or docker-archive tarball (optionally gzip
// compressed) into the containerd of the agent using dataDir.
func Import(ctx context.Context, dataDir, file string) error {
	store, err := Open(ctx, SocketPath(dataDir))
	if err != nil {
		return fmt.Errorf("%w (is the agent running with data dir %s? Or put the file in %s: it is imported at agent start)", err, dataDir, AutoImportDir(dataDir))
	}
	defer store.Close()
	_, err = store.ImportFile(ctx, file)
	return err
}

// List lists the images in the containerd of the agent using dataDir.
func List(ctx context.Context, dataDir string) ([]Image, error) {
	store, err := Open(ctx, SocketPath(dataDir))
	if err != nil {
		return nil, fmt.Errorf("%w (is the agent running with data dir %s?)", err, dataDir)
	}
	defer store.Close()
	return store.List(ctx)
}

// Store is a connection to containerd's image and content services.
type Store struct {
	client *containerd.Client
}

// Open connects to the containerd at address.
func Open(ctx context.Context, address string) (*Store, error) {
	conn, err := net.DialTimeout("unix", address, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("no containerd at %s: %w", address, err)
	}
	conn.Close()
	client, err := containerd.New(address, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	return &Store{client: client}, nil
}

// Close closes the connection.
func (s *Store) Close() error { return s.client.Close() }

// ImportFile imports one tarball and unpacks its images for the pod
// snapshotter, returning the image names.
func (s *Store) ImportFile(ctx context.Context, file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("open image archive: %w", err)
	}
	defer f.Close()
	names, err := s.ImportReader(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", file, err)
	}
	return names, nil
}

// ImportReader imports a tarball read from r (gzip-compressed or not).
func (s *Store) ImportReader(ctx context.Context, r io.Reader) ([]string, error) {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	br := bufio.NewReader(r)
	var stream io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		stream = gz
	}
	imgs, err := s.client.Import(ctx, stream,
		containerd.WithImageRefTranslator(normalizeRef),
		containerd.WithImportPlatform(platforms.Default()),
	)
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errors.New("the archive names no image (an OCI archive needs an org.opencontainers.image.ref.name or io.containerd.image.name annotation)")
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		image := containerd.NewImageWithPlatform(s.client, img, platforms.Default())
		if err := image.Unpack(ctx, Snapshotter); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// normalizeRef turns an OCI ref.name annotation into the full reference
// CRI looks images up by ("web:1" becomes "docker.io/library/web:1").
func normalizeRef(name string) string {
	named, err := reference.ParseDockerRef(name)
	if err != nil {
		return name
	}
	return named.String()
}

// List returns the images, sorted by name.
func (s *Store) List(ctx context.Context) ([]Image, error) {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	imgs, err := s.client.ImageService().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		if strings.HasPrefix(img.Name, "sha256:") {
			continue
		}
		size, err := containerd.NewImageWithPlatform(s.client, img, platforms.Default()).Size(ctx)
		if err != nil {
			size = img.Target.Size
		}
		out = append(out, Image{Name: img.Name, Digest: img.Target.Digest.String(), Size: size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// EnsurePause imports the project-built pause image under name, unless an
// image of that name is already unpacked.
func (s *Store) EnsurePause(ctx context.Context, name string) error {
	ctx = namespaces.WithNamespace(ctx, Namespace)
	if img, err := s.client.GetImage(ctx, name); err == nil {
		if ok, err := img.IsUnpacked(ctx, Snapshotter); err == nil && ok {
			return nil
		}
	}
	var buf bytes.Buffer
	if err := PauseArchive(&buf, name, runtime.GOARCH); err != nil {
		return err
	}
	if _, err := s.ImportReader(ctx, &buf); err != nil {
		return fmt.Errorf("import pause image: %w", err)
	}
	return nil
}

// PauseArchive writes the pause image for arch as an OCI archive.
func PauseArchive(w io.Writer, name, arch string) error {
	bin, err := pause.Binary(arch)
	if err != nil {
		return err
	}
	return ociarchive.Write(w, ociarchive.Image{
		Ref:          name,
		Architecture: arch,
		Entrypoint:   []string{"/pause"},
		Files:        []ociarchive.File{{Path: "/pause", Mode: 0o755, Data: bin}},
	})
}

// importRecord remembers which auto-import files were imported, so agent
// restarts do not re-read large tarballs.
type importRecord struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
}

// ImportDir imports every *.tar, *.tar.gz and *.tgz in dir that changed
// since it was last imported. It returns the first error after trying all.
func (s *Store) ImportDir(ctx context.Context, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read auto-import folder: %w", err)
	}
	recordPath := filepath.Join(dir, ".imported.json")
	records := map[string]importRecord{}
	if data, err := os.ReadFile(recordPath); err == nil {
		_ = json.Unmarshal(data, &records)
	}
	var names []string
	var firstErr error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".tar") || strings.HasSuffix(name, ".tar.gz") || strings.HasSuffix(name, ".tgz")) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		rec := importRecord{Size: info.Size(), ModTime: info.ModTime().UTC()}
		if prev, ok := records[name]; ok && prev.Size == rec.Size && prev.ModTime.Equal(rec.ModTime) {
			continue
		}
		imported, err := s.ImportFile(ctx, filepath.Join(dir, name))
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		names = append(names, imported...)
		records[name] = rec
	}
	if data, err := json.Marshal(records); err == nil {
		_ = os.WriteFile(recordPath, data, 0o600)
	}
	return names, firstErr
}
