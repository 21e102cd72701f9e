package scheduler

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// Plugins whose verdicts a cluster event may change; the queue retries
// only pods some of these rejected.
const (
	assignedPodDeletePlugins = pluginNodeResourcesFit | pluginNodePorts | pluginInterPodAffinity | pluginPodTopologySpread
	assignedPodAddPlugins    = pluginInterPodAffinity | pluginPodTopologySpread
)

func (s *Scheduler) addEventHandlers(pods, nodes cache.SharedIndexInformer) {
	// Registration errors only happen on a stopped informer; the
	// factory's informers are not started yet here.
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onPodAdd(obj) },
		UpdateFunc: func(old, obj any) { s.onPodUpdate(old, obj) },
		DeleteFunc: func(obj any) { s.onPodDelete(obj) },
	})
	_, _ = nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onNodeAdd(obj) },
		UpdateFunc: func(old, obj any) { s.onNodeUpdate(old, obj) },
		DeleteFunc: func(obj any) { s.onNodeDelete(obj) },
	})
}

// isTerminal: finished pods hold no resources (upstream's scheduler
// ignores them through a field selector on its pod informer).
func isTerminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

func (s *Scheduler) onPodAdd(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	switch {
	case isTerminal(pod):
	case pod.Spec.NodeName != "":
		s.cache.addPod(pod)
		s.queue.moveOnEvent(clusterEvent{plugins: assignedPodAddPlugins, pod: pod})
	case s.responsibleFor(pod) && pod.DeletionTimestamp == nil && len(pod.Spec.SchedulingGates) == 0:
		s.queue.add(pod)
		s.noteNomination(pod)
	}
}

// noteNomination learns a nomination from the API (one made by an earlier
// run of the scheduler); this run's own nominations are recorded directly.
func (s *Scheduler) noteNomination(pod *v1.Pod) {
	if pod.Status.NominatedNodeName != "" && s.nominator.nodeOf(pod.UID) == "" {
		s.nominator.set(newPodInfo(pod), pod.Status.NominatedNodeName)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, obj any) {
	old, ok1 := oldObj.(*v1.Pod)
	pod, ok2 := obj.(*v1.Pod)
	if !ok1 || !ok2 {
		return
	}
	if pod.Spec.NodeName != "" {
		if old.Spec.NodeName == "" {
			s.queue.remove(pod)
			s.nominator.remove(pod.UID)
		}
		if isTerminal(pod) {
			if s.cache.removePod(pod.UID) {
				s.queue.moveOnEvent(clusterEvent{plugins: assignedPodDeletePlugins})
			}
			return
		}
		added := s.cache.updatePod(pod)
		if added || !labels.Equals(old.Labels, pod.Labels) {
			s.queue.moveOnEvent(clusterEvent{plugins: assignedPodAddPlugins, pod: pod})
		}
		return
	}
	switch {
	case isTerminal(pod) || pod.DeletionTimestamp != nil || !s.responsibleFor(pod):
		s.queue.remove(pod)
		s.cache.removePod(pod.UID)
		s.nominator.remove(pod.UID)
	case len(pod.Spec.SchedulingGates) > 0:
		// Gated pods wait outside the queue until their gates are removed.
		s.queue.remove(pod)
	default:
		s.queue.update(old, pod)
		if old.Status.NominatedNodeName == "" {
			s.noteNomination(pod)
		}
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	s.queue.remove(pod)
	s.nominator.remove(pod.UID)
	// Also drops a pod assumed but not yet seen bound.
	if s.cache.removePod(pod.UID) {
		s.queue.moveOnEvent(clusterEvent{plugins: assignedPodDeletePlugins})
	}
}

func (s *Scheduler) onNodeAdd(obj any) {
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	s.cache.addNode(node)
	s.queue.moveOnEvent(clusterEvent{plugins: allPlugins})
}

func (s *Scheduler) onNodeUpdate(oldObj, obj any) {
	old, ok1 := oldObj.(*v1.Node)
	node, ok2 := obj.(*v1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.addNode(node)
	if plugins := nodeChangePlugins(old, node); plugins != 0 {
		s.queue.moveOnEvent(clusterEvent{plugins: plugins})
	}
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	s.cache.removeNode(node.Name)
}

// nodeChangePlugins says which plugins' verdicts a node update can change;
// heartbeat-only updates change none, so they requeue nothing.
func nodeChangePlugins(old, node *v1.Node) pluginID {
	var p pluginID
	if !equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable) {
		p |= pluginNodeResourcesFit
	}
	if !labels.Equals(old.Labels, node.Labels) {
		p |= pluginNodeAffinity | pluginPodTopologySpread | pluginInterPodAffinity
	}
	if !equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) {
		p |= pluginTaintToleration | pluginNodeReadiness | pluginPodTopologySpread
	}
	if old.Spec.Unschedulable != node.Spec.Unschedulable {
		p |= pluginNodeUnschedulable
	}
	if readyStatus(old) != readyStatus(node) {
		p |= pluginNodeReadiness
	}
	return p
}

func readyStatus(node *v1.Node) v1.ConditionStatus {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == v1.NodeReady {
			return node.Status.Conditions[i].Status
		}
	}
	return ""
}
