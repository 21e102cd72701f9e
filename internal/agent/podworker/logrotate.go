package podworker

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Container log rotation, as the kubelet does it (containerd never rotates):
// a running container's log over maxLogSize is renamed aside and the runtime
// reopens a fresh file; at most maxLogFiles files are kept per container run.
const (
	maxLogSize  = 10 << 20
	maxLogFiles = 5
)

// rotateLogs checks the log files of running containers.
func (m *Manager) rotateLogs(ctx context.Context, containers []*criapi.Container) {
	if m.cfg.LogRoot == "" {
		return
	}
	byKey := map[string]string{} // "<uid>/<name>/<restartCount>" → container ID
	for _, c := range containers {
		if c.State != criapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		key := c.Labels[LabelPodUID] + "/" + c.Labels[LabelContainerName] + "/" + c.Annotations[AnnotationRestartCount]
		byKey[key] = c.Id
	}
	logs, _ := filepath.Glob(filepath.Join(m.cfg.LogRoot, "*", "*", "*.log"))
	for _, path := range logs {
		info, err := os.Stat(path)
		if err != nil || info.Size() < maxLogSize {
			continue
		}
		podDir := filepath.Base(filepath.Dir(filepath.Dir(path)))
		uid := podDir[strings.LastIndex(podDir, "_")+1:]
		name := filepath.Base(filepath.Dir(path))
		restarts := strings.TrimSuffix(filepath.Base(path), ".log")
		id, ok := byKey[uid+"/"+name+"/"+restarts]
		if !ok {
			continue
		}
		rotated := path + "." + time.Now().UTC().Format("20060102-150405.000")
		if err := os.Rename(path, rotated); err != nil {
			continue
		}
		if _, err := m.cfg.Runtime.ReopenContainerLog(ctx, &criapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
			// Put the file back so the runtime keeps writing where we read.
			_ = os.Rename(rotated, path)
			m.cfg.Log.Warn("reopen container log", "container", id, "err", err)
			continue
		}
		old, _ := filepath.Glob(path + ".*")
		sort.Strings(old)
		for len(old) > maxLogFiles-1 {
			_ = os.Remove(old[0])
			old = old[1:]
		}
	}
}
