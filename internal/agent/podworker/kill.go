package podworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// killPod stops all running containers (spec grace period) and the pod's
// sandboxes, keeping them for logs and status.
func (m *Manager) killPod(ctx context.Context, pod *v1.Pod, st *runtimeState) {
	m.killPodGrace(ctx, pod, st, nil)
}

func (m *Manager) killPodGrace(ctx context.Context, pod *v1.Pod, st *runtimeState, grace *int64) {
	if st == nil {
		var err error
		if st, err = m.podRuntimeState(ctx, pod.UID); err != nil {
			return
		}
	}
	var wg sync.WaitGroup
	for _, c := range st.containers {
		if !c.running() {
			continue
		}
		g := int64(30)
		switch {
		case grace != nil:
			g = *grace
		case pod.Spec.Containers != nil:
			g = gracePeriod(pod, false)
		default:
			if n, err := strconv.ParseInt(c.status.GetAnnotations()[AnnotationGracePeriod], 10, 64); err == nil {
				g = n
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.killContainer(ctx, pod, c, g)
		}()
	}
	wg.Wait()
	for _, sb := range st.sandboxes {
		if sb.State == criapi.PodSandboxState_SANDBOX_READY {
			if _, err := m.cfg.Runtime.StopPodSandbox(ctx, &criapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
				m.cfg.Log.Warn("stop sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
		}
	}
}

// killContainer runs the preStop hook, then stops the container: SIGTERM
// (or the image's stop signal) and SIGKILL once the grace period is over.
func (m *Manager) killContainer(ctx context.Context, pod *v1.Pod, c *containerInfo, grace int64) {
	deadline := time.Now().Add(time.Duration(grace) * time.Second)
	var preStop *v1.LifecycleHandler
	var spec *v1.Container
	for _, s := range allContainers(pod) {
		if s.Name == c.name {
			s := s
			spec = &s
			if s.Lifecycle != nil {
				preStop = s.Lifecycle.PreStop
			}
		}
	}
	if spec == nil && c.status != nil {
		if raw := c.status.Annotations[AnnotationPreStop]; raw != "" {
			h := &v1.LifecycleHandler{}
			if json.Unmarshal([]byte(raw), h) == nil {
				preStop = h
			}
		}
	}
	if preStop != nil && grace > 0 {
		ip := ""
		if ips := pod.Status.PodIPs; len(ips) > 0 {
			ip = ips[0].IP
		}
		hctx, cancel := context.WithDeadline(ctx, deadline)
		if err := m.runHook(hctx, preStop, c.id, ip, spec, grace); err != nil {
			m.cfg.Recorder.Eventf(pod, v1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
		}
		cancel()
	}
	remaining := int64(time.Until(deadline).Round(time.Second) / time.Second)
	if grace > 0 && remaining < 2 {
		remaining = 2 // upstream's minimum after a preStop hook
	}
	if grace <= 0 {
		remaining = 0
	}
	m.probes.Remove(c.id)
	if _, err := m.cfg.Runtime.StopContainer(ctx, &criapi.StopContainerRequest{ContainerId: c.id, Timeout: remaining}); err != nil {
		m.cfg.Log.Warn("stop container", "pod", pod.Namespace+"/"+pod.Name, "container", c.name, "err", err)
	}
}

// runHook runs a lifecycle handler: exec in the container, an HTTP GET to
// the pod, or a sleep.
func (m *Manager) runHook(ctx context.Context, h *v1.LifecycleHandler, containerID, podIP string, c *v1.Container, grace int64) error {
	switch {
	case h.Exec != nil:
		out, code, err := execer{m.cfg.Runtime}.ExecSync(ctx, containerID, h.Exec.Command, time.Duration(grace)*time.Second)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", h.Exec.Command, code, strings.TrimSpace(string(out)))
		}
		return nil
	case h.HTTPGet != nil:
		host := h.HTTPGet.Host
		if host == "" {
			host = podIP
		}
		port := h.HTTPGet.Port.IntValue()
		if port == 0 && c != nil {
			for _, p := range c.Ports {
				if p.Name == h.HTTPGet.Port.StrVal {
					port = int(p.ContainerPort)
				}
			}
		}
		scheme := strings.ToLower(string(h.HTTPGet.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := h.HTTPGet.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), path), nil)
		if err != nil {
			return err
		}
		for _, hd := range h.HTTPGet.HTTPHeaders {
			req.Header.Add(hd.Name, hd.Value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP lifecycle hook returned %d", resp.StatusCode)
		}
		return nil
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
		return nil
	}
	return errors.New("lifecycle handler has no action")
}

// cleanupPod removes everything the pod left on the node: sandboxes and
// containers, log files, volumes, the pod's cgroup folders and host-port
// NAT chains.
func (m *Manager) cleanupPod(ctx context.Context, pod *v1.Pod) {
	m.probes.RemovePod(pod.UID)
	m.backoff.Forget(string(pod.UID) + "/")
	m.pulls.Forget(string(pod.UID) + "/")
	st, err := m.podRuntimeState(ctx, pod.UID)
	if err == nil {
		for _, c := range st.containers {
			if c.status != nil && c.status.LogPath != "" {
				_ = os.Remove(c.status.LogPath)
			}
			m.forgetContainer(c.id)
		}
		for _, sb := range st.sandboxes {
			_, _ = m.cfg.Runtime.StopPodSandbox(ctx, &criapi.StopPodSandboxRequest{PodSandboxId: sb.Id})
			if _, err := m.cfg.Runtime.RemovePodSandbox(ctx, &criapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
				m.cfg.Log.Warn("remove sandbox", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
			m.removeHostportChains(sb.Id)
		}
	}
	_ = os.RemoveAll(PodLogDir(m.cfg.LogRoot, pod))
	if err := m.cfg.Volumes.Teardown(pod.UID); err != nil {
		m.cfg.Log.Warn("remove pod volumes", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	m.removeCgroups(pod)
	m.releaseIPs(pod)
}

// removeCgroups removes the pod's cgroup folder from every hierarchy
// (runc removes the containers' own folders, not their parent).
func (m *Manager) removeCgroups(pod *v1.Pod) {
	name := "pod" + string(pod.UID)
	rel := []string{
		filepath.Join(m.cfg.CgroupRoot, name),
		filepath.Join(m.cfg.CgroupRoot, "burstable", name),
		filepath.Join(m.cfg.CgroupRoot, "besteffort", name),
	}
	roots := []string{m.cfg.CgroupMount}
	if entries, err := os.ReadDir(m.cfg.CgroupMount); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				roots = append(roots, filepath.Join(m.cfg.CgroupMount, e.Name()))
			}
		}
	}
	for _, root := range roots {
		for _, r := range rel {
			dir := filepath.Join(root, r)
			if _, err := os.Stat(dir); err != nil {
				continue
			}
			// Leftover empty child folders first, then the pod's own.
			if entries, err := os.ReadDir(dir); err == nil {
				for _, e := range entries {
					if e.IsDir() {
						_ = os.Remove(filepath.Join(dir, e.Name()))
					}
				}
			}
			if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
				m.cfg.Log.Warn("remove pod cgroup", "dir", dir, "err", err)
			}
		}
	}
}

// releaseIPs drops host-local allocations still naming the pod's sandboxes
// (CNI DEL normally releases them; a sandbox torn down while the network
// plugin failed can leave one behind).
func (m *Manager) releaseIPs(pod *v1.Pod) {
	if m.cfg.IPAMDir == "" {
		return
	}
	live := map[string]bool{}
	if resp, err := m.cfg.Runtime.ListPodSandbox(context.Background(), &criapi.ListPodSandboxRequest{}); err == nil {
		for _, sb := range resp.Items {
			live[sb.Id] = true
		}
	}
	nets, _ := os.ReadDir(m.cfg.IPAMDir)
	for _, n := range nets {
		dir := filepath.Join(m.cfg.IPAMDir, n.Name())
		files, _ := os.ReadDir(dir)
		for _, f := range files {
			if net.ParseIP(f.Name()) == nil {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, f.Name()))
			if err != nil {
				continue
			}
			owner := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
			if owner != "" && !live[owner] {
				_ = os.Remove(filepath.Join(dir, f.Name()))
			}
		}
	}
}

// removeHostportChains deletes portmap's per-sandbox NAT chains that CNI
// DEL left behind (the chain comments carry the sandbox ID).
func (m *Manager) removeHostportChains(sandboxID string) {
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil || !strings.Contains(string(out), sandboxID) {
		return
	}
	chains := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(line, "-A ") || !strings.Contains(line, sandboxID) {
			continue
		}
		fields := strings.Fields(line)
		for i, f := range fields {
			if f == "-j" && i+1 < len(fields) && strings.HasPrefix(fields[i+1], "CNI-") {
				chains[fields[i+1]] = true
			}
		}
		args := append([]string{"-t", "nat", "-D"}, fields[1:]...)
		_ = exec.Command("iptables", unquote(args)...).Run()
	}
	for chain := range chains {
		if chain == "CNI-HOSTPORT-DNAT" || chain == "CNI-HOSTPORT-SETMARK" || chain == "CNI-HOSTPORT-MASQ" {
			continue
		}
		_ = exec.Command("iptables", "-t", "nat", "-F", chain).Run()
		_ = exec.Command("iptables", "-t", "nat", "-X", chain).Run()
	}
}

// unquote strips iptables-save's quotes around comments.
func unquote(args []string) []string {
	out := make([]string, 0, len(args))
	joined := strings.Join(args, " ")
	var cur strings.Builder
	inQuote := false
	for _, r := range joined {
		switch {
		case r == '"':
			inQuote = !inQuote
		case r == ' ' && !inQuote:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// garbageCollect removes old exited runs, keeping the newest two per
// container (the current one and the previous, for --previous logs).
func (m *Manager) garbageCollect(ctx context.Context, st *runtimeState, pod *v1.Pod) {
	seen := map[string]int{}
	for _, c := range st.containers {
		seen[c.name]++
		if seen[c.name] <= 2 || c.running() {
			continue
		}
		if _, err := m.cfg.Runtime.RemoveContainer(ctx, &criapi.RemoveContainerRequest{ContainerId: c.id}); err != nil {
			continue
		}
		if c.status != nil && c.status.LogPath != "" {
			_ = os.Remove(c.status.LogPath)
			rotated, _ := filepath.Glob(c.status.LogPath + ".*")
			for _, r := range rotated {
				_ = os.Remove(r)
			}
		}
		_ = os.Remove(m.terminationLogPath(pod, c.name, c.restartCount))
		m.forgetContainer(c.id)
	}
}

// tailLog returns the last lines of a CRI log file's messages, at most
// maxBytes, for FallbackToLogsOnError.
func tailLog(path string, lines, maxBytes int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	var b strings.Builder
	for _, l := range all {
		// "<time> <stream> <P|F> <message>"
		parts := strings.SplitN(l, " ", 4)
		if len(parts) == 4 {
			b.WriteString(parts[3])
			if parts[2] == "F" {
				b.WriteByte('\n')
			}
		}
	}
	s := b.String()
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	return s
}
