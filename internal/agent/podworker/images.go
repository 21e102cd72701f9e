package podworker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/agent/podstatus"
)

// ensureImage makes the container's image present per its pull policy and
// returns the image ID to run and the image's numeric user (if any). A
// non-nil Waiting means the container cannot start yet.
func (m *Manager) ensureImage(ctx context.Context, pod *v1.Pod, c *v1.Container) (string, *int64, *podstatus.Waiting) {
	policy := c.ImagePullPolicy
	if policy == "" {
		policy = defaultPullPolicy(c.Image)
	}
	spec := &criapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image}
	present, err := m.cfg.Runtime.Images.ImageStatus(ctx, &criapi.ImageStatusRequest{Image: spec})
	have := err == nil && present.Image != nil
	if have && policy != v1.PullAlways {
		m.cfg.Recorder.Eventf(pod, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return present.Image.Id, imageUID(present.Image), nil
	}
	if !have && policy == v1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		m.cfg.Recorder.Event(pod, v1.EventTypeWarning, "ErrImageNeverPull", msg)
		return "", nil, &podstatus.Waiting{Reason: "ErrImageNeverPull", Message: msg}
	}
	key := string(pod.UID) + "/" + c.Name + "/pull"
	// In back-off only after a pull that failed without a usable fallback
	// (nothing present, or the registry refused): see below.
	if in, _ := m.pulls.InBackoff(key, time.Now(), time.Now()); in {
		m.cfg.Recorder.Eventf(pod, v1.EventTypeNormal, "BackOff", "Back-off pulling image %q", c.Image)
		return "", nil, &podstatus.Waiting{Reason: "ImagePullBackOff", Message: fmt.Sprintf("Back-off pulling image %q", c.Image)}
	}
	m.cfg.Recorder.Eventf(pod, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := time.Now()
	var pullErrs []error
	for _, auth := range m.pullAuths(pod, c.Image) {
		resp, err := m.cfg.Runtime.Images.PullImage(ctx, &criapi.PullImageRequest{Image: spec, Auth: auth, SandboxConfig: nil})
		if err == nil {
			m.cfg.Recorder.Eventf(pod, v1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s", c.Image, time.Since(start).Round(time.Millisecond))
			st, err := m.cfg.Runtime.Images.ImageStatus(ctx, &criapi.ImageStatusRequest{Image: spec})
			if err == nil && st.Image != nil {
				return st.Image.Id, imageUID(st.Image), nil
			}
			return resp.ImageRef, nil, nil
		}
		pullErrs = append(pullErrs, err)
	}
	pullErr := utilerrors.NewAggregate(pullErrs)
	if have && !pullRefused(pullErr) {
		// No registry reachable (air-gapped nodes): run the imported image.
		// Not when the registry answered and refused: a pod that pulls
		// Always must hold credentials for the image, even one another
		// pod's credentials brought onto the node.
		m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "Pulled", "Could not pull image %q (%v); using the image already on the node", c.Image, pullErr)
		return present.Image.Id, imageUID(present.Image), nil
	}
	m.pulls.Next(key, time.Now())
	msg := fmt.Sprintf("Failed to pull image %q: %v", c.Image, pullErr)
	m.cfg.Recorder.Event(pod, v1.EventTypeWarning, "Failed", msg)
	return "", nil, &podstatus.Waiting{Reason: "ErrImagePull", Message: msg}
}

// pullRefused reports whether a failed pull was the registry refusing the
// credentials (or their absence), as opposed to not being reachable. CRI
// passes containerd's error as text only.
func pullRefused(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"unauthorized", "403 forbidden", "denied", "authorization failed"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func imageUID(img *criapi.Image) *int64 {
	if img.Uid != nil {
		v := img.Uid.Value
		return &v
	}
	if img.Username == "" {
		v := int64(0)
		return &v
	}
	if n, err := strconv.ParseInt(img.Username, 10, 64); err == nil {
		return &n
	}
	return nil
}

// defaultPullPolicy is the API's default: Always for :latest or no tag.
func defaultPullPolicy(image string) v1.PullPolicy {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return v1.PullIfNotPresent
	}
	if _, digested := named.(reference.Digested); digested {
		return v1.PullIfNotPresent
	}
	if tagged, ok := named.(reference.Tagged); !ok || tagged.Tag() == "latest" {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

// dockerConfig is the content of a .dockerconfigjson Secret.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"`
}

// pullAuths returns the credentials to try, from the pod's
// imagePullSecrets matching the image's registry; anonymous (one nil) when
// none match, as the kubelet does.
func (m *Manager) pullAuths(pod *v1.Pod, image string) []*criapi.AuthConfig {
	registry := "docker.io"
	if named, err := reference.ParseNormalizedNamed(image); err == nil {
		registry = reference.Domain(named)
	}
	var out []*criapi.AuthConfig
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := m.cfg.Sources.Secret(pod.Namespace, ref.Name)
		if err != nil {
			continue
		}
		var cfg dockerConfig
		switch {
		case len(s.Data[v1.DockerConfigJsonKey]) > 0:
			_ = json.Unmarshal(s.Data[v1.DockerConfigJsonKey], &cfg)
		case len(s.Data[v1.DockerConfigKey]) > 0:
			_ = json.Unmarshal(s.Data[v1.DockerConfigKey], &cfg.Auths)
		}
		for host, a := range cfg.Auths {
			if !registryMatches(host, registry) {
				continue
			}
			user, pass := a.Username, a.Password
			if a.Auth != "" {
				if dec, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
					if u, p, ok := strings.Cut(string(dec), ":"); ok {
						user, pass = u, p
					}
				}
			}
			// No ServerAddress: the secret was matched to the registry
			// above, and containerd drops credentials whose ServerAddress
			// does not parse as a URL with that host ("127.0.0.1:5000",
			// "docker.io" do not).
			out = append(out, &criapi.AuthConfig{Username: user, Password: pass})
		}
	}
	if len(out) == 0 {
		return []*criapi.AuthConfig{nil}
	}
	return out
}

func registryMatches(key, registry string) bool {
	host := key
	host = strings.TrimPrefix(host, "https://")
	host = strings.TrimPrefix(host, "http://")
	host, _, _ = strings.Cut(host, "/")
	if registry == "docker.io" {
		return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io"
	}
	return host == registry
}
