package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// testRegistry is a distribution registry (Debian's docker-registry) on
// 127.0.0.1 with htpasswd basic auth, so image pulls with imagePullSecrets
// run against a real registry without leaving the machine.
type testRegistry struct {
	addr, user, password string
}

// startRegistry runs docker-registry for the test, or skips when it is not
// installed (hack/setup.sh --test installs it).
func startRegistry(t *testing.T) *testRegistry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("e2e: docker-registry is not installed (run hack/setup.sh --test)")
	}
	dir := t.TempDir()
	r := &testRegistry{user: "skiff", password: "pull-secret-" + fmt.Sprint(time.Now().UnixNano())}
	hash, err := bcrypt.GenerateFromPassword([]byte(r.password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(r.user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	l.Close()
	config := fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
auth:
  htpasswd:
    realm: skiff-test
    path: %s
`, filepath.Join(dir, "data"), r.addr, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", filepath.Join(dir, "config.yml"))
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait(); logf.Close() })
	framework.Eventually(t, 20*time.Second, "registry answers /v2/", func() (bool, error) {
		resp, err := http.Get("http://" + r.addr + "/v2/")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		// 401 without credentials: it is up, and it wants them.
		return resp.StatusCode == http.StatusUnauthorized, fmt.Errorf("status %d", resp.StatusCode)
	})
	return r
}

// push uploads the image in an OCI-layout archive as repo:tag, through the
// registry's HTTP API (blobs, then the manifest).
func (r *testRegistry) push(t *testing.T, archive, repo, tag string) {
	t.Helper()
	files := map[string][]byte{}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", archive, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimPrefix(h.Name, "./")] = data
	}
	blob := func(digest string) []byte {
		data, ok := files["blobs/"+strings.Replace(digest, ":", "/", 1)]
		if !ok {
			t.Fatalf("archive has no blob %s", digest)
		}
		return data
	}
	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	}
	var index struct{ Manifests []descriptor }
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) == 0 {
		t.Fatalf("index.json: %v", err)
	}
	manifest := blob(index.Manifests[0].Digest)
	var m struct {
		Config descriptor
		Layers []descriptor
	}
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	for _, d := range append([]descriptor{m.Config}, m.Layers...) {
		resp := r.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", "", nil, http.StatusAccepted)
		loc := resp.Header.Get("Location")
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		if strings.HasPrefix(loc, "http://") {
			loc = strings.TrimPrefix(loc, "http://"+r.addr)
		}
		r.do(t, http.MethodPut, loc+sep+"digest="+d.Digest, "application/octet-stream", blob(d.Digest), http.StatusCreated)
	}
	r.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, index.Manifests[0].MediaType, manifest, http.StatusCreated)
}

func (r *testRegistry) do(t *testing.T, method, path, contentType string, body []byte, want int) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(r.user, r.password)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, msg)
	}
	return resp
}

// dockerConfigJSON is a kubernetes.io/dockerconfigjson Secret's payload.
func (r *testRegistry) dockerConfigJSON() []byte {
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{r.addr: map[string]string{"username": r.user, "password": r.password}}})
	return data
}
