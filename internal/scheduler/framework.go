package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// maxNodeScore is the highest score one score plugin gives a node.
const maxNodeScore int64 = 100

// code says how a filter failed: Unschedulable failures might be fixed by
// preempting pods on the node; UnschedulableAndUnresolvable ones cannot.
type code int

const (
	codeUnschedulable code = iota + 1
	codeUnresolvable
)

// status is a filter's verdict on one node; nil means the node passed.
type status struct {
	code    code
	reasons []string
	plugin  pluginID
}

func unschedulable(p pluginID, reasons ...string) *status {
	return &status{code: codeUnschedulable, reasons: reasons, plugin: p}
}

func unresolvable(p pluginID, reasons ...string) *status {
	return &status{code: codeUnresolvable, reasons: reasons, plugin: p}
}

// pluginID names a plugin as one bit, so the queue can remember which
// plugins rejected a pod and requeue it only on events that can help them.
type pluginID uint32

const (
	pluginNodeUnschedulable pluginID = 1 << iota
	pluginNodeName
	pluginTaintToleration
	pluginNodeReadiness
	pluginNodeAffinity
	pluginNodePorts
	pluginNodeResourcesFit
	pluginPodTopologySpread
	pluginInterPodAffinity

	allPlugins pluginID = 1<<iota - 1
)

// cycleState carries what the pre-filter and pre-score steps computed for
// the pod being scheduled, so that the per-node steps are cheap lookups.
type cycleState struct {
	// nsLabels returns a namespace's labels (for namespace selectors).
	nsLabels func(ns string) labels.Set
	// allNodes is every node in the cache, feasible or not.
	allNodes []*nodeInfo
	// Whether any placed pod has (anti-)affinity terms, or required
	// anti-affinity terms.
	anyPodWithAffinity             bool
	anyPodWithRequiredAntiAffinity bool

	// nominated sums, per node, the pods preemption nominated there
	// whose priority is at least the scheduled pod's; nil when none.
	nominated map[string]*nominatedLoad

	interPod   *interPodAffinityState
	hardSpread *spreadState
	softSpread *spreadScoreState
	interScore *interPodScoreState
}

// filter is one filter plugin: preFilter prepares per-pod state and says
// whether the plugin applies to this pod at all; filter judges one node.
type filter interface {
	id() pluginID
	preFilter(cs *cycleState, p *podInfo, nodes []*nodeInfo) (skip bool, st *status)
	filter(cs *cycleState, p *podInfo, n *nodeInfo) *status
}

// scorer is one score plugin. preScore returns false when the plugin would
// give every node the same score for this pod, so it can be skipped.
// score fills scores[i] for nodes[i]; normalize maps them onto 0..100.
type scorer interface {
	weight() int64
	preScore(cs *cycleState, p *podInfo, nodes []*nodeInfo) bool
	score(cs *cycleState, p *podInfo, nodes []*nodeInfo, scores []int64)
}

// defaultNormalize scales scores so the highest becomes maxNodeScore; with
// reverse, the highest raw score becomes 0 (upstream's DefaultNormalizeScore).
func defaultNormalize(scores []int64, reverse bool) {
	var max int64
	for _, s := range scores {
		if s > max {
			max = s
		}
	}
	if max == 0 {
		if reverse {
			for i := range scores {
				scores[i] = maxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = maxNodeScore * s / max
		if reverse {
			s = maxNodeScore - s
		}
		scores[i] = s
	}
}

// diagnosis collects why nodes were rejected, to word the error as upstream
// does and to requeue the pod on the right events.
type diagnosis struct {
	numNodes   int
	reasons    map[string]int
	plugins    pluginID
	preFilter  string // set when a pre-filter rejected the pod outright
	postFilter string // preemption's explanation
	// resolvable lists nodes whose failure preemption could fix.
	resolvable []*nodeInfo
}

func (d *diagnosis) record(n *nodeInfo, st *status) {
	if d.reasons == nil {
		d.reasons = make(map[string]int)
	}
	for _, r := range st.reasons {
		d.reasons[r]++
	}
	d.plugins |= st.plugin
	if st.code == codeUnschedulable {
		d.resolvable = append(d.resolvable, n)
	}
}

// message words the failure exactly as upstream's FitError does:
// "0/3 nodes are available: 1 node(s) had untolerated taint {a: b}, 2 Insufficient cpu."
func (d *diagnosis) message() string {
	var b strings.Builder
	fmt.Fprintf(&b, "0/%d nodes are available:", d.numNodes)
	if d.preFilter != "" {
		fmt.Fprintf(&b, " %s.", d.preFilter)
	} else if len(d.reasons) > 0 {
		hist := make([]string, 0, len(d.reasons))
		for r, n := range d.reasons {
			hist = append(hist, fmt.Sprintf("%d %s", n, r))
		}
		sort.Strings(hist)
		fmt.Fprintf(&b, " %s.", strings.Join(hist, ", "))
	}
	if d.postFilter != "" {
		fmt.Fprintf(&b, " %s.", d.postFilter)
	}
	return b.String()
}
