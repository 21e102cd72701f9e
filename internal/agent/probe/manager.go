package probe

import (
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Kind is a probe's role.
type Kind string

const (
	Liveness  Kind = "Liveness"
	Readiness Kind = "Readiness"
	Startup   Kind = "Startup"
)

// State is what the probes of one container say right now.
type State struct {
	// Ready: the readiness probe succeeded last (true without a probe).
	Ready bool
	// Started: the startup probe succeeded (true without a probe).
	Started bool
	// Failed is set when the liveness or startup probe crossed its failure
	// threshold: the container must be killed and restarted.
	Failed bool
	// FailedKind and Message say which probe failed and why.
	FailedKind Kind
	Message    string
}

// Event reports a probe failure as upstream's "Unhealthy" event.
type Event struct {
	PodUID    types.UID
	Container string
	Kind      Kind
	Message   string
}

// Manager runs probe workers per container.
type Manager struct {
	exec     Execer
	onChange func(types.UID)
	onFail   func(Event)

	mu         sync.Mutex
	containers map[string]*container // by container ID
}

type container struct {
	podUID types.UID
	cancel context.CancelFunc
	state  State
}

// NewManager returns a manager; onChange is called (without locks held)
// when a container's State changes, onFail for each failed probe run.
func NewManager(exec Execer, onChange func(types.UID), onFail func(Event)) *Manager {
	return &Manager{exec: exec, onChange: onChange, onFail: onFail, containers: map[string]*container{}}
}

// Add starts the probes of a running container, once per container ID.
// initialReady seeds readiness (an adopted container that was ready stays
// ready until its probe says otherwise, so an agent restart does not flap
// endpoints).
func (m *Manager) Add(ctx context.Context, podUID types.UID, podIP, containerID string, c *v1.Container, initialReady bool) {
	m.mu.Lock()
	if _, ok := m.containers[containerID]; ok {
		m.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	st := State{Ready: c.ReadinessProbe == nil || initialReady, Started: c.StartupProbe == nil}
	if initialReady {
		st.Started = true
	}
	m.containers[containerID] = &container{podUID: podUID, cancel: cancel, state: st}
	m.mu.Unlock()

	t := Target{PodIP: podIP, ContainerID: containerID, Container: c}
	for kind, p := range map[Kind]*v1.Probe{Liveness: c.LivenessProbe, Readiness: c.ReadinessProbe, Startup: c.StartupProbe} {
		if p != nil {
			go m.run(ctx, kind, p, t, podUID)
		}
	}
}

// State returns the container's probe state; a container without probes
// (or not added) is ready and started.
func (m *Manager) State(containerID string) State {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.containers[containerID]; ok {
		return c.state
	}
	return State{Ready: true, Started: true}
}

// Known reports whether the container's probes run.
func (m *Manager) Known(containerID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.containers[containerID]
	return ok
}

// Remove stops a container's probes.
func (m *Manager) Remove(containerID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.containers[containerID]; ok {
		c.cancel()
		delete(m.containers, containerID)
	}
}

// RemovePod stops the probes of all of a pod's containers.
func (m *Manager) RemovePod(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.containers {
		if c.podUID == uid {
			c.cancel()
			delete(m.containers, id)
		}
	}
}

func (m *Manager) update(containerID string, f func(*State)) {
	m.mu.Lock()
	c, ok := m.containers[containerID]
	if !ok {
		m.mu.Unlock()
		return
	}
	before := c.state
	f(&c.state)
	changed := before != c.state
	uid := c.podUID
	m.mu.Unlock()
	if changed && m.onChange != nil {
		m.onChange(uid)
	}
}

// run is one probe's loop: wait initialDelaySeconds, then probe every
// periodSeconds; successThreshold successes in a row flip it to success,
// failureThreshold failures in a row to failure. Liveness and readiness
// wait for the startup probe to succeed.
func (m *Manager) run(ctx context.Context, kind Kind, p *v1.Probe, t Target, podUID types.UID) {
	period := time.Duration(p.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	successThreshold := int(p.SuccessThreshold)
	if successThreshold <= 0 {
		successThreshold = 1
	}
	failureThreshold := int(p.FailureThreshold)
	if failureThreshold <= 0 {
		failureThreshold = 3
	}
	start := time.Now()
	initialDelay := time.Duration(p.InitialDelaySeconds) * time.Second
	successes, failures := 0, 0
	// The first probe runs right away (after the initial delay) so a ready
	// container is reported within a moment of starting.
	timer := time.NewTimer(initialDelay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(period)
		if kind != Startup && !m.State(t.ContainerID).Started {
			continue
		}
		if kind == Startup && m.State(t.ContainerID).Started {
			return // startup probes stop once they succeed
		}
		if time.Since(start) < initialDelay {
			continue
		}
		err := Check(ctx, p, t, m.exec)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			failures = 0
			successes++
			if successes < successThreshold {
				continue
			}
			m.update(t.ContainerID, func(s *State) {
				switch kind {
				case Readiness:
					s.Ready = true
				case Startup:
					s.Started = true
				}
			})
			continue
		}
		successes = 0
		failures++
		if m.onFail != nil {
			m.onFail(Event{PodUID: podUID, Container: t.Container.Name, Kind: kind, Message: err.Error()})
		}
		if failures < failureThreshold {
			continue
		}
		m.update(t.ContainerID, func(s *State) {
			switch kind {
			case Readiness:
				s.Ready = false
			case Liveness, Startup:
				s.Failed = true
				s.FailedKind = kind
				s.Message = err.Error()
			}
		})
		if kind != Readiness {
			return // the container is killed; its successor gets new probes
		}
	}
}
