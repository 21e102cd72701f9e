package scheduler

import (
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// nodeInfo is a node plus the sums the filters need: what its pods request,
// which host ports they hold, how many pods of each controller it runs.
type nodeInfo struct {
	node        *v1.Node // nil while only pods reference the node
	name        string
	allocatable resources
	requested   resources
	// Sums of the pods' requests with non-zero defaults, for scoring.
	nonZeroCPU    int64
	nonZeroMemory int64

	pods      []*podInfo
	usedPorts []hostPort
	// Pods with any (anti-)affinity, and with required anti-affinity: the
	// inter-pod affinity plugin only visits those.
	podsWithAffinity             int
	podsWithRequiredAntiAffinity int
	ownerCounts                  map[types.UID]int32

	// zone is region+zone labels (for spreading), "" when absent.
	zone string
	// conditionTaint is the taint the node's Ready condition implies
	// (not-ready or unreachable) when the node does not carry it yet.
	conditionTaint *v1.Taint
	// hasPreferNoSchedule says whether the node has any PreferNoSchedule taint.
	hasPreferNoSchedule bool
}

func (n *nodeInfo) setNode(node *v1.Node) {
	n.node = node
	n.name = node.Name
	n.allocatable = newResources(node.Status.Allocatable)
	n.zone = zoneKey(node)
	n.conditionTaint = readinessTaint(node)
	n.hasPreferNoSchedule = false
	for i := range node.Spec.Taints {
		if node.Spec.Taints[i].Effect == v1.TaintEffectPreferNoSchedule {
			n.hasPreferNoSchedule = true
		}
	}
}

func (n *nodeInfo) addPod(p *podInfo) {
	n.pods = append(n.pods, p)
	n.requested.add(&p.requests)
	n.nonZeroCPU += p.nonZeroCPU
	n.nonZeroMemory += p.nonZeroMemory
	n.usedPorts = append(n.usedPorts, p.hostPorts...)
	if p.hasAffinityTerms() {
		n.podsWithAffinity++
	}
	if len(p.requiredAntiAffinity) > 0 {
		n.podsWithRequiredAntiAffinity++
	}
	if p.controllerUID != "" {
		if n.ownerCounts == nil {
			n.ownerCounts = make(map[types.UID]int32)
		}
		n.ownerCounts[p.controllerUID]++
	}
}

// removePod removes the pod with the given UID and reports whether it was there.
func (n *nodeInfo) removePod(uid types.UID) bool {
	for i, p := range n.pods {
		if p.pod.UID != uid {
			continue
		}
		last := len(n.pods) - 1
		n.pods[i] = n.pods[last]
		n.pods[last] = nil
		n.pods = n.pods[:last]
		n.requested.sub(&p.requests)
		n.nonZeroCPU -= p.nonZeroCPU
		n.nonZeroMemory -= p.nonZeroMemory
		for _, hp := range p.hostPorts {
			for j, u := range n.usedPorts {
				if u == hp {
					n.usedPorts = append(n.usedPorts[:j], n.usedPorts[j+1:]...)
					break
				}
			}
		}
		if p.hasAffinityTerms() {
			n.podsWithAffinity--
		}
		if len(p.requiredAntiAffinity) > 0 {
			n.podsWithRequiredAntiAffinity--
		}
		if p.controllerUID != "" {
			if n.ownerCounts[p.controllerUID]--; n.ownerCounts[p.controllerUID] <= 0 {
				delete(n.ownerCounts, p.controllerUID)
			}
		}
		return true
	}
	return false
}

// podState tracks where the cache placed a pod and whether that placement
// is only the scheduler's own decision (assumed) not yet seen from the API.
type podState struct {
	info     *podInfo
	nodeName string
	assumed  bool
}

// schedulerCache holds the cluster as the scheduler sees it: nodes from the
// node informer, bound pods from the pod informer, and pods the scheduler
// assumed onto nodes before their binding came back through the informer.
// Counting assumed pods is what keeps back-to-back decisions from
// overcommitting a node while bindings are in flight.
type schedulerCache struct {
	mu       sync.RWMutex
	nodes    map[string]*nodeInfo
	nodeList []*nodeInfo // nodes with a Node object, in a stable order
	nodeIdx  map[string]int
	pods     map[types.UID]*podState
	// Cluster-wide counts of placed pods with (anti-)affinity terms and
	// with required anti-affinity, so the affinity plugins can skip their
	// walk over all nodes when there are none.
	podsWithAffinity             int
	podsWithRequiredAntiAffinity int
}

func newSchedulerCache() *schedulerCache {
	return &schedulerCache{
		nodes:   make(map[string]*nodeInfo),
		nodeIdx: make(map[string]int),
		pods:    make(map[types.UID]*podState),
	}
}

func (c *schedulerCache) nodeInfoLocked(name string) *nodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		n = &nodeInfo{name: name}
		c.nodes[name] = n
	}
	return n
}

func (c *schedulerCache) addNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeInfoLocked(node.Name)
	if n.node == nil {
		c.nodeIdx[node.Name] = len(c.nodeList)
		c.nodeList = append(c.nodeList, n)
	}
	n.setNode(node)
}

func (c *schedulerCache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	if i, ok := c.nodeIdx[name]; ok {
		last := len(c.nodeList) - 1
		c.nodeList[i] = c.nodeList[last]
		c.nodeIdx[c.nodeList[i].name] = i
		c.nodeList[last] = nil
		c.nodeList = c.nodeList[:last]
		delete(c.nodeIdx, name)
	}
	n.node = nil
	// Pods still bound to a deleted node keep their entry until they go,
	// as upstream does; an empty entry can go now.
	if len(n.pods) == 0 {
		delete(c.nodes, name)
	}
}

func (c *schedulerCache) removePodFromNodeLocked(ps *podState) {
	n, ok := c.nodes[ps.nodeName]
	if !ok {
		return
	}
	if n.removePod(ps.info.pod.UID) {
		c.countAffinity(ps.info, -1)
	}
	if n.node == nil && len(n.pods) == 0 {
		delete(c.nodes, ps.nodeName)
	}
}

// updatePod records a pod the informer reports bound to a node (added or
// updated). An assumption is confirmed; a pod whose labels and spec did
// not change keeps its derived sums and only points at the new object. It
// reports whether the pod is new to the cache or newly confirmed.
func (c *schedulerCache) updatePod(pod *v1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	if ok && ps.nodeName == pod.Spec.NodeName && !specChanged(ps.info.pod, pod) {
		confirmed := ps.assumed
		ps.assumed = false
		ps.info.pod = pod
		return confirmed
	}
	if ok {
		c.removePodFromNodeLocked(ps)
	}
	info := newPodInfo(pod)
	c.pods[pod.UID] = &podState{info: info, nodeName: pod.Spec.NodeName}
	c.nodeInfoLocked(pod.Spec.NodeName).addPod(info)
	c.countAffinity(info, 1)
	return true
}

func (c *schedulerCache) countAffinity(p *podInfo, delta int) {
	if p.hasAffinityTerms() {
		c.podsWithAffinity += delta
	}
	if len(p.requiredAntiAffinity) > 0 {
		c.podsWithRequiredAntiAffinity += delta
	}
}

// addPod is updatePod for informer adds.
func (c *schedulerCache) addPod(pod *v1.Pod) { c.updatePod(pod) }

// removePod forgets a pod that was deleted or finished and reports whether
// the cache held it.
func (c *schedulerCache) removePod(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[uid]
	if !ok {
		return false
	}
	c.removePodFromNodeLocked(ps)
	delete(c.pods, uid)
	return true
}

// assumePod counts p (whose spec.nodeName is set to the chosen node) on its
// node until the informer confirms the binding or forgetPod undoes it.
func (c *schedulerCache) assumePod(p *podInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uid := p.pod.UID
	if ps, ok := c.pods[uid]; ok {
		c.removePodFromNodeLocked(ps)
	}
	c.pods[uid] = &podState{info: p, nodeName: p.pod.Spec.NodeName, assumed: true}
	c.nodeInfoLocked(p.pod.Spec.NodeName).addPod(p)
	c.countAffinity(p, 1)
}

// forgetPod undoes assumePod after a failed binding. A pod the informer has
// meanwhile confirmed stays.
func (c *schedulerCache) forgetPod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[uid]; ok && ps.assumed {
		c.removePodFromNodeLocked(ps)
		delete(c.pods, uid)
	}
}

// isAssumedOrBound reports whether the cache already placed the pod.
func (c *schedulerCache) isAssumedOrBound(uid types.UID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.pods[uid]
	return ok
}

// counts returns the numbers of nodes and of placed pods (for tests and logs).
func (c *schedulerCache) counts() (nodes, pods, assumed int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, ps := range c.pods {
		if ps.assumed {
			assumed++
		}
	}
	return len(c.nodeList), len(c.pods), assumed
}
