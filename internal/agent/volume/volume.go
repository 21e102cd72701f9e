// Package volume prepares a pod's volumes on the node: emptyDir (disk or
// tmpfs), hostPath, configMap, secret, downwardAPI and projected volumes
// (kept up to date by atomic swaps), service-account tokens, and
// persistentVolumeClaims bound to hostPath or local PVs.
package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/agent/envvar"
)

// Sources looks up ConfigMaps and Secrets (from the agent's informers).
type Sources interface {
	ConfigMap(namespace, name string) (*v1.ConfigMap, error)
	Secret(namespace, name string) (*v1.Secret, error)
}

// Manager sets up and tears down pod volumes under Dir/<pod uid>/volumes.
type Manager struct {
	// Dir is the agent's pods folder.
	Dir     string
	Sources Sources
	Client  kubernetes.Interface
	// RootCA is the API server's CA bundle, used for the kube-root-ca.crt
	// ConfigMap when the cluster does not publish it.
	RootCA []byte

	mu     sync.Mutex
	tokens map[string]token // key: pod uid/volume/path
}

type token struct {
	value   []byte
	expires time.Time
	issued  time.Time
}

// Mount is a prepared volume: where it is on the host and whether it is
// read-only for every container.
type Mount struct {
	HostPath string
	ReadOnly bool
}

// PodDir is the folder of one pod.
func (m *Manager) PodDir(uid types.UID) string { return filepath.Join(m.Dir, string(uid)) }

func (m *Manager) volumeDir(uid types.UID, kind, name string) string {
	return filepath.Join(m.PodDir(uid), "volumes", kind, name)
}

// Setup prepares (or refreshes) every volume of pod and returns them by name.
// podIPs and hostIPs feed downward API fields.
func (m *Manager) Setup(ctx context.Context, pod *v1.Pod, podIPs, hostIPs []string) (map[string]Mount, error) {
	out := make(map[string]Mount, len(pod.Spec.Volumes))
	var errs []error
	for _, vol := range pod.Spec.Volumes {
		mnt, err := m.setupOne(ctx, pod, vol, podIPs, hostIPs)
		if err != nil {
			errs = append(errs, fmt.Errorf("volume %q: %w", vol.Name, err))
			continue
		}
		if sc := pod.Spec.SecurityContext; sc != nil && sc.FSGroup != nil && vol.HostPath == nil {
			if err := applyFSGroup(mnt.HostPath, *sc.FSGroup); err != nil {
				errs = append(errs, fmt.Errorf("volume %q: fsGroup: %w", vol.Name, err))
				continue
			}
		}
		out[vol.Name] = mnt
	}
	return out, errors.Join(errs...)
}

func (m *Manager) setupOne(ctx context.Context, pod *v1.Pod, vol v1.Volume, podIPs, hostIPs []string) (Mount, error) {
	src := vol.VolumeSource
	switch {
	case src.EmptyDir != nil:
		dir := m.volumeDir(pod.UID, "empty-dir", vol.Name)
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return Mount{}, err
		}
		_ = os.Chmod(dir, 0o777) // upstream: world-writable so any runAsUser can use it
		if src.EmptyDir.Medium == v1.StorageMediumMemory {
			if err := mountTmpfs(dir, src.EmptyDir.SizeLimit); err != nil {
				return Mount{}, err
			}
		}
		return Mount{HostPath: dir}, nil
	case src.HostPath != nil:
		return Mount{HostPath: src.HostPath.Path}, prepareHostPath(src.HostPath)
	case src.ConfigMap != nil:
		payload, err := m.configMapPayload(pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, mode(src.ConfigMap.DefaultMode))
		if err != nil {
			return Mount{}, err
		}
		return m.writeProjected(pod.UID, "configmap", vol.Name, payload)
	case src.Secret != nil:
		payload, err := m.secretPayload(pod.Namespace, src.Secret.SecretName, src.Secret.Items, src.Secret.Optional, mode(src.Secret.DefaultMode))
		if err != nil {
			return Mount{}, err
		}
		return m.writeProjected(pod.UID, "secret", vol.Name, payload)
	case src.DownwardAPI != nil:
		payload, err := downwardPayload(pod, src.DownwardAPI.Items, mode(src.DownwardAPI.DefaultMode), podIPs, hostIPs)
		if err != nil {
			return Mount{}, err
		}
		return m.writeProjected(pod.UID, "downward-api", vol.Name, payload)
	case src.Projected != nil:
		payload, err := m.projectedPayload(ctx, pod, vol.Name, src.Projected, podIPs, hostIPs)
		if err != nil {
			return Mount{}, err
		}
		return m.writeProjected(pod.UID, "projected", vol.Name, payload)
	case src.PersistentVolumeClaim != nil:
		path, err := m.claimPath(ctx, pod.Namespace, src.PersistentVolumeClaim.ClaimName)
		if err != nil {
			return Mount{}, err
		}
		return Mount{HostPath: path, ReadOnly: src.PersistentVolumeClaim.ReadOnly}, nil
	default:
		return Mount{}, fmt.Errorf("volume type not supported by skiff's agent")
	}
}

func (m *Manager) writeProjected(uid types.UID, kind, name string, payload Payload) (Mount, error) {
	dir := m.volumeDir(uid, kind, name)
	if _, err := WriteAtomic(dir, payload); err != nil {
		return Mount{}, err
	}
	// Projected data is read-only in containers, as upstream mounts it.
	return Mount{HostPath: dir, ReadOnly: true}, nil
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func itemMode(def os.FileMode, m *int32) os.FileMode {
	if m == nil {
		return def
	}
	return os.FileMode(*m)
}

func (m *Manager) configMapPayload(ns, name string, items []v1.KeyToPath, optional *bool, def os.FileMode) (Payload, error) {
	cm, err := m.Sources.ConfigMap(ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && name == "kube-root-ca.crt" && len(m.RootCA) > 0 {
			cm = &v1.ConfigMap{Data: map[string]string{"ca.crt": string(m.RootCA)}}
		} else if apierrors.IsNotFound(err) && optional != nil && *optional {
			return Payload{}, nil
		} else {
			return nil, fmt.Errorf("configmap %q: %w", name, err)
		}
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyPayload(data, items, optional, def, "configmap", name)
}

func (m *Manager) secretPayload(ns, name string, items []v1.KeyToPath, optional *bool, def os.FileMode) (Payload, error) {
	s, err := m.Sources.Secret(ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return Payload{}, nil
		}
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return keyPayload(s.Data, items, optional, def, "secret", name)
}

// keyPayload maps keys to files: all keys when items is empty, else only
// the listed ones at their paths (a missing key is an error unless optional).
func keyPayload(data map[string][]byte, items []v1.KeyToPath, optional *bool, def os.FileMode, kind, name string) (Payload, error) {
	p := Payload{}
	if len(items) == 0 {
		for k, v := range data {
			p[k] = FileData{Data: v, Mode: def}
		}
		return p, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional != nil && *optional {
				continue
			}
			return nil, fmt.Errorf("%s %q has no key %q", kind, name, it.Key)
		}
		p[it.Path] = FileData{Data: v, Mode: itemMode(def, it.Mode)}
	}
	return p, nil
}

func downwardPayload(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, def os.FileMode, podIPs, hostIPs []string) (Payload, error) {
	p := Payload{}
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = envvar.FieldValue(envvar.Pod{Pod: pod, PodIPs: podIPs, HostIPs: hostIPs}, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("downwardAPI %s: container %q not found", it.Path, it.ResourceFieldRef.ContainerName)
			}
			value, err = envvar.ResourceValue(it.ResourceFieldRef, c, nil)
		default:
			return nil, fmt.Errorf("downwardAPI %s: no field", it.Path)
		}
		if err != nil {
			return nil, fmt.Errorf("downwardAPI %s: %w", it.Path, err)
		}
		p[it.Path] = FileData{Data: []byte(value), Mode: itemMode(def, it.Mode)}
	}
	return p, nil
}

func (m *Manager) projectedPayload(ctx context.Context, pod *v1.Pod, volName string, proj *v1.ProjectedVolumeSource, podIPs, hostIPs []string) (Payload, error) {
	def := mode(proj.DefaultMode)
	all := Payload{}
	for _, s := range proj.Sources {
		var p Payload
		var err error
		switch {
		case s.ConfigMap != nil:
			p, err = m.configMapPayload(pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, def)
		case s.Secret != nil:
			p, err = m.secretPayload(pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, def)
		case s.DownwardAPI != nil:
			p, err = downwardPayload(pod, s.DownwardAPI.Items, def, podIPs, hostIPs)
		case s.ServiceAccountToken != nil:
			var tok []byte
			tok, err = m.serviceAccountToken(ctx, pod, volName, s.ServiceAccountToken)
			p = Payload{s.ServiceAccountToken.Path: {Data: tok, Mode: def}}
		case s.ClusterTrustBundle != nil, s.PodCertificate != nil:
			err = fmt.Errorf("projected source not supported by skiff's agent")
		}
		if err != nil {
			return nil, err
		}
		for k, v := range p {
			all[k] = v
		}
	}
	return all, nil
}

// PlaceholderToken is projected when the API server has no TokenRequest
// (pods/serviceaccounts/token); it authenticates nothing.
const PlaceholderToken = "skiff-placeholder-token: the API server does not serve serviceaccounts/token"

// serviceAccountToken returns a bound token for the pod's service account,
// requested again once 80% of its lifetime has passed.
func (m *Manager) serviceAccountToken(ctx context.Context, pod *v1.Pod, volName string, src *v1.ServiceAccountTokenProjection) ([]byte, error) {
	key := string(pod.UID) + "/" + volName + "/" + src.Path
	now := time.Now()
	m.mu.Lock()
	if m.tokens == nil {
		m.tokens = map[string]token{}
	}
	t, ok := m.tokens[key]
	m.mu.Unlock()
	if ok && now.Before(t.issued.Add(t.expires.Sub(t.issued)*8/10)) {
		return t.value, nil
	}
	expiration := int64(3607)
	if src.ExpirationSeconds != nil {
		expiration = *src.ExpirationSeconds
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	var audiences []string
	if src.Audience != "" {
		audiences = []string{src.Audience}
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		Audiences:         audiences,
		ExpirationSeconds: &expiration,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	resp, err := m.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			if ok {
				return t.value, nil
			}
			// The service account may be missing, or the server may not serve
			// TokenRequest: the pod still starts, with a token that says so.
			return []byte(PlaceholderToken), nil
		}
		if ok {
			return t.value, nil // keep the old token until a refresh works
		}
		return nil, fmt.Errorf("request token for service account %q: %w", sa, err)
	}
	exp := resp.Status.ExpirationTimestamp.Time
	if exp.IsZero() {
		exp = now.Add(time.Duration(expiration) * time.Second)
	}
	m.mu.Lock()
	m.tokens[key] = token{value: []byte(resp.Status.Token), expires: exp, issued: now}
	m.mu.Unlock()
	return []byte(resp.Status.Token), nil
}

// claimPath resolves a PVC to the host path of its bound PV.
func (m *Manager) claimPath(ctx context.Context, ns, claim string) (string, error) {
	pvc, err := m.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolumeclaim %q: %w", claim, err)
	}
	if pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistentvolumeclaim %q is not bound yet", claim)
	}
	pv, err := m.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("persistentvolume %q: %w", pvc.Spec.VolumeName, err)
	}
	// A claim naming its volume is usable before the binder marks it Bound,
	// unless the volume is bound to another claim.
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != ns || ref.Name != claim || (ref.UID != "" && ref.UID != pvc.UID)) {
		return "", fmt.Errorf("persistentvolume %q is bound to another claim (%s/%s)", pv.Name, ref.Namespace, ref.Name)
	}
	var path string
	switch {
	case pv.Spec.HostPath != nil:
		path = pv.Spec.HostPath.Path
		if err := prepareHostPath(pv.Spec.HostPath); err != nil {
			return "", err
		}
	case pv.Spec.Local != nil:
		path = pv.Spec.Local.Path
	default:
		return "", fmt.Errorf("persistentvolume %q is neither hostPath nor local", pv.Name)
	}
	if err := os.MkdirAll(path, 0o777); err != nil {
		return "", fmt.Errorf("persistentvolume %q: %w", pv.Name, err)
	}
	return path, nil
}

// prepareHostPath checks (or creates) a hostPath by its type.
func prepareHostPath(hp *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	info, statErr := os.Stat(hp.Path)
	switch t {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if statErr != nil {
			if err := os.MkdirAll(hp.Path, 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", hp.Path, err)
			}
			return nil
		}
		if !info.IsDir() {
			return fmt.Errorf("hostPath %s exists and is not a directory", hp.Path)
		}
	case v1.HostPathFileOrCreate:
		if statErr != nil {
			if err := os.MkdirAll(filepath.Dir(hp.Path), 0o755); err != nil {
				return fmt.Errorf("hostPath %s: %w", hp.Path, err)
			}
			f, err := os.OpenFile(hp.Path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("hostPath %s: %w", hp.Path, err)
			}
			return f.Close()
		}
		if info.IsDir() {
			return fmt.Errorf("hostPath %s exists and is a directory", hp.Path)
		}
	case v1.HostPathDirectory:
		if statErr != nil || !info.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", hp.Path)
		}
	case v1.HostPathFile:
		if statErr != nil || !info.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", hp.Path)
		}
	case v1.HostPathSocket:
		if statErr != nil || info.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", hp.Path)
		}
	case v1.HostPathCharDev:
		if statErr != nil || info.Mode()&os.ModeCharDevice == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", hp.Path)
		}
	case v1.HostPathBlockDev:
		if statErr != nil || info.Mode()&os.ModeDevice == 0 || info.Mode()&os.ModeCharDevice != 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", hp.Path)
		}
	}
	return nil
}

func mountTmpfs(dir string, sizeLimit *resource.Quantity) error {
	if mounted(dir) {
		return nil
	}
	opts := "mode=0777"
	if sizeLimit != nil && sizeLimit.Value() > 0 {
		opts += ",size=" + strconv.FormatInt(sizeLimit.Value(), 10)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return nil
}

// mounted reports whether dir is a mount point (its device differs from
// its parent's).
func mounted(dir string) bool {
	var st, parent syscall.Stat_t
	if syscall.Stat(dir, &st) != nil || syscall.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// Teardown unmounts and removes everything the agent made for the pod.
func (m *Manager) Teardown(uid types.UID) error {
	dir := m.PodDir(uid)
	emptyDirs := filepath.Join(dir, "volumes", "empty-dir")
	if entries, err := os.ReadDir(emptyDirs); err == nil {
		for _, e := range entries {
			p := filepath.Join(emptyDirs, e.Name())
			if mounted(p) {
				if err := syscall.Unmount(p, 0); err != nil {
					_ = syscall.Unmount(p, syscall.MNT_DETACH)
				}
			}
		}
	}
	m.mu.Lock()
	for k := range m.tokens {
		if strings.HasPrefix(k, string(uid)+"/") {
			delete(m.tokens, k)
		}
	}
	m.mu.Unlock()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pod dir: %w", err)
	}
	return nil
}

// References reports whether pod mounts the ConfigMap or Secret (kind
// "configmap" or "secret") named name, directly or through a projection.
func References(pod *v1.Pod, kind, name string) bool {
	for _, vol := range pod.Spec.Volumes {
		src := vol.VolumeSource
		switch {
		case kind == "configmap" && src.ConfigMap != nil && src.ConfigMap.Name == name:
			return true
		case kind == "secret" && src.Secret != nil && src.Secret.SecretName == name:
			return true
		case src.Projected != nil:
			for _, s := range src.Projected.Sources {
				if (kind == "configmap" && s.ConfigMap != nil && s.ConfigMap.Name == name) ||
					(kind == "secret" && s.Secret != nil && s.Secret.Name == name) {
					return true
				}
			}
		}
	}
	return false
}

// SubPath returns the host path for a mount with subPath inside a volume at
// base, creating it as a directory when missing, and refusing paths that
// leave the volume (including through symlinks).
func SubPath(base, sub string) (string, error) {
	if sub == "" {
		return base, nil
	}
	if filepath.IsAbs(sub) || strings.HasPrefix(filepath.Clean(sub), "..") {
		return "", fmt.Errorf("subPath %q must be a relative path inside the volume", sub)
	}
	full := filepath.Join(base, sub)
	if _, err := os.Lstat(full); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(full, 0o777); err != nil {
			return "", fmt.Errorf("create subPath %q: %w", sub, err)
		}
	}
	resolvedBase, err := filepath.EvalSymlinks(base)
	if err != nil {
		return "", fmt.Errorf("resolve volume: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(full)
	if err != nil {
		return "", fmt.Errorf("resolve subPath %q: %w", sub, err)
	}
	if resolved != resolvedBase && !strings.HasPrefix(resolved, resolvedBase+string(os.PathSeparator)) {
		return "", fmt.Errorf("subPath %q leaves the volume", sub)
	}
	return resolved, nil
}

// applyFSGroup gives the pod's fsGroup the volume, as upstream does for
// volumes that support ownership management: files and folders get the
// group, group read (and write, for writable files) and setgid folders so
// new files inherit it. A volume whose root already has the group is left
// alone (upstream's OnRootMismatch).
func applyFSGroup(root string, gid int64) error {
	info, err := os.Stat(root)
	if err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int64(st.Gid) == gid && info.Mode()&os.ModeSetgid != 0 {
		return nil
	}
	return filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(path, -1, int(gid)); err != nil {
			return err
		}
		mode := info.Mode()
		switch {
		case info.IsDir():
			mode |= os.ModeSetgid | 0o070
		case mode&0o200 != 0:
			mode |= 0o060
		default:
			mode |= 0o040
		}
		return os.Chmod(path, mode)
	})
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.Containers {
		if name == "" || pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}
