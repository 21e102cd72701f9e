// Package ociarchive writes single-layer OCI image archives (an OCI image
// layout in a tar) from files in memory: the pause image and the images
// tests build come from here, so nothing is ever pulled.
package ociarchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// File is one entry of the image's single layer: a regular file, or a
// symlink when Symlink is set, or a directory when Dir is set.
type File struct {
	Path    string // absolute path in the image, e.g. "/pause"
	Mode    int64  // permission bits, e.g. 0o755
	Data    []byte
	Symlink string // link target
	Dir     bool
}

// Image describes the image to write.
type Image struct {
	// Ref is the full image reference, e.g. "docker.io/library/web:1".
	Ref          string
	Architecture string // GOARCH naming, e.g. "amd64"
	Entrypoint   []string
	Cmd          []string
	Env          []string
	WorkingDir   string
	User         string
	Files        []File
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// fixedTime keeps archives byte-identical across builds, so re-importing the
// same image is a no-op for containerd.
var fixedTime = time.Unix(0, 0).UTC()

// Write writes img as an OCI image layout tar to w.
func Write(w io.Writer, img Image) error {
	if img.Ref == "" {
		return fmt.Errorf("ociarchive: image has no reference")
	}
	layer, err := layerTar(img.Files)
	if err != nil {
		return err
	}
	layerDigest := digest(layer)
	config, err := json.Marshal(map[string]any{
		"architecture": img.Architecture,
		"os":           "linux",
		"created":      fixedTime.Format(time.RFC3339),
		"config": map[string]any{
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"Env":        img.Env,
			"WorkingDir": img.WorkingDir,
			"User":       img.User,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layerDigest}},
	})
	if err != nil {
		return fmt.Errorf("ociarchive: config: %w", err)
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: digest(config), Size: int64(len(config))},
		"layers":        []descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar", Digest: layerDigest, Size: int64(len(layer))}},
	})
	if err != nil {
		return fmt.Errorf("ociarchive: manifest: %w", err)
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []descriptor{{
			MediaType: "application/vnd.oci.image.manifest.v1+json",
			Digest:    digest(manifest),
			Size:      int64(len(manifest)),
			Annotations: map[string]string{
				"io.containerd.image.name":          img.Ref,
				"org.opencontainers.image.ref.name": tagOf(img.Ref),
			},
			Platform: &platform{Architecture: img.Architecture, OS: "linux"},
		}},
	})
	if err != nil {
		return fmt.Errorf("ociarchive: index: %w", err)
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{blobPath(layer), layer},
		{blobPath(config), config},
		{blobPath(manifest), manifest},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: fixedTime}); err != nil {
			return fmt.Errorf("ociarchive: %w", err)
		}
	}
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: fixedTime}); err != nil {
			return fmt.Errorf("ociarchive: %w", err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return fmt.Errorf("ociarchive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("ociarchive: %w", err)
	}
	return nil
}

// layerTar is the uncompressed layer: the files and their parent directories.
func layerTar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, f := range sorted {
		name := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		if name == "" {
			return nil, fmt.Errorf("ociarchive: file with empty path")
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if dirs[dir] {
				break
			}
			dirs[dir] = true
		}
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: fixedTime}); err != nil {
			return nil, fmt.Errorf("ociarchive: layer: %w", err)
		}
	}
	for _, f := range sorted {
		name := strings.TrimPrefix(path.Clean("/"+f.Path), "/")
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		switch {
		case f.Symlink != "":
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: f.Symlink, Mode: 0o777, ModTime: fixedTime}); err != nil {
				return nil, fmt.Errorf("ociarchive: layer: %w", err)
			}
			continue
		case f.Dir:
			if dirs[name] {
				continue
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: fixedTime}); err != nil {
				return nil, fmt.Errorf("ociarchive: layer: %w", err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(f.Data)), ModTime: fixedTime}); err != nil {
			return nil, fmt.Errorf("ociarchive: layer: %w", err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("ociarchive: layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("ociarchive: layer: %w", err)
	}
	return buf.Bytes(), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func blobPath(b []byte) string {
	return "blobs/sha256/" + strings.TrimPrefix(digest(b), "sha256:")
}

// tagOf returns the tag of a reference ("latest" when it has none).
func tagOf(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return "latest"
}
