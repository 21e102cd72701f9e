package ociarchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	img := Image{
		Ref: "docker.io/library/app:2", Architecture: "amd64", Entrypoint: []string{"/bin/app"},
		Files: []File{
			{Path: "/bin/app", Mode: 0o755, Data: []byte("binary")},
			{Path: "/bin/sh", Symlink: "app"},
			{Path: "/tmp", Dir: true, Mode: 0o1777},
		},
	}
	if err := Write(&buf, img); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
	// Every blob is stored under its digest.
	for name, data := range files {
		if hexDigest, ok := strings.CutPrefix(name, "blobs/sha256/"); ok && hexDigest != "" {
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != hexDigest {
				t.Errorf("blob %s has the wrong digest", name)
			}
		}
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations["io.containerd.image.name"] != img.Ref ||
		index.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "2" {
		t.Fatalf("index %+v", index)
	}
	var manifest struct {
		Config struct{ Digest string }   `json:"config"`
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(files["blobs/sha256/"+strings.TrimPrefix(index.Manifests[0].Digest, "sha256:")], &manifest); err != nil {
		t.Fatal(err)
	}
	layer := files["blobs/sha256/"+strings.TrimPrefix(manifest.Layers[0].Digest, "sha256:")]
	lr := tar.NewReader(bytes.NewReader(layer))
	entries := map[string]*tar.Header{}
	for {
		h, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = h
	}
	if h := entries["bin/app"]; h == nil || h.Mode != 0o755 {
		t.Errorf("bin/app %+v", h)
	}
	if h := entries["bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "app" {
		t.Errorf("bin/sh %+v", h)
	}
	if h := entries["tmp/"]; h == nil || h.Typeflag != tar.TypeDir {
		t.Errorf("tmp %+v", h)
	}
	if h := entries["bin/"]; h == nil {
		t.Error("parent folders are in the layer")
	}
	// Building twice gives the same bytes (re-imports are no-ops).
	var again bytes.Buffer
	_ = Write(&again, img)
	var first bytes.Buffer
	_ = Write(&first, img)
	if !bytes.Equal(first.Bytes(), again.Bytes()) {
		t.Error("archives are not reproducible")
	}
}
