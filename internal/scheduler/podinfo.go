package scheduler

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	resourcehelper "k8s.io/component-helpers/resource"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// Requests used for scoring when a container states none, so that best-effort
// pods still spread instead of piling onto one node (upstream's defaults).
const (
	defaultMilliCPURequest int64 = 100               // 0.1 core
	defaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// resources is the scheduler's arithmetic view of a ResourceList: plain
// integers so that the per-node fit check does not allocate.
type resources struct {
	milliCPU         int64
	memory           int64
	ephemeralStorage int64
	// pods is only meaningful for allocatable (the node's pod capacity).
	pods int64
	// scalar holds extended resources and hugepages, keyed by name.
	scalar map[v1.ResourceName]int64
}

func newResources(rl v1.ResourceList) resources {
	var r resources
	for name, q := range rl {
		r.addQuantity(name, q)
	}
	return r
}

func (r *resources) addQuantity(name v1.ResourceName, q resource.Quantity) {
	switch name {
	case v1.ResourceCPU:
		r.milliCPU += q.MilliValue()
	case v1.ResourceMemory:
		r.memory += q.Value()
	case v1.ResourceEphemeralStorage:
		r.ephemeralStorage += q.Value()
	case v1.ResourcePods:
		r.pods += q.Value()
	default:
		if isScalarResourceName(name) {
			if r.scalar == nil {
				r.scalar = make(map[v1.ResourceName]int64, 1)
			}
			r.scalar[name] += q.Value()
		}
	}
}

// add adds o to r (used for a node's requested sum).
func (r *resources) add(o *resources) {
	r.milliCPU += o.milliCPU
	r.memory += o.memory
	r.ephemeralStorage += o.ephemeralStorage
	for name, v := range o.scalar {
		if r.scalar == nil {
			r.scalar = make(map[v1.ResourceName]int64, len(o.scalar))
		}
		r.scalar[name] += v
	}
}

// sub subtracts o from r.
func (r *resources) sub(o *resources) {
	r.milliCPU -= o.milliCPU
	r.memory -= o.memory
	r.ephemeralStorage -= o.ephemeralStorage
	for name, v := range o.scalar {
		if r.scalar != nil {
			r.scalar[name] -= v
			if r.scalar[name] == 0 {
				delete(r.scalar, name)
			}
		}
	}
}

func (r *resources) isZero() bool {
	return r.milliCPU == 0 && r.memory == 0 && r.ephemeralStorage == 0 && len(r.scalar) == 0
}

// isScalarResourceName reports whether a resource name is one the scheduler
// accounts besides cpu, memory, ephemeral-storage and pods: extended resources
// (example.com/gpu), hugepages-*, prefixed native resources
// (*kubernetes.io/*) and attachable volumes.
func isScalarResourceName(name v1.ResourceName) bool {
	s := string(name)
	switch {
	case strings.HasPrefix(s, v1.ResourceHugePagesPrefix):
		return true
	case strings.HasPrefix(s, v1.ResourceAttachableVolumesPrefix):
		return true
	case strings.Contains(s, "/"):
		// Extended (vendor-domain) or prefixed native (kubernetes.io/...)
		// resources; quota-only names ("requests.foo") are not schedulable.
		return !strings.HasPrefix(s, v1.DefaultResourceRequestsPrefix)
	}
	return false
}

// hostPort is one host port a pod wants on its node.
type hostPort struct {
	ip       string // "0.0.0.0" means all addresses
	protocol v1.Protocol
	port     int32
}

func (p hostPort) conflicts(o hostPort) bool {
	if p.port != o.port || p.protocol != o.protocol {
		return false
	}
	return p.ip == o.ip || p.ip == "0.0.0.0" || o.ip == "0.0.0.0"
}

// affinityTerm is a parsed PodAffinityTerm.
type affinityTerm struct {
	namespaces sets.Set[string]
	// namespace is set when namespaces holds exactly one name (the common
	// case), so matching is a string comparison.
	namespace   string
	nsSelector  labels.Selector // nil means "no namespace selector"
	selector    podSelector
	topologyKey string
	weight      int32 // for preferred terms
}

// matches reports whether the term selects pod p; nsLabels looks up the
// labels of p's namespace, consulted only when the term has a namespace selector.
func (t *affinityTerm) matches(p *podInfo, nsLabels func(string) labels.Set) bool {
	if !t.inNamespace(p.pod.Namespace) {
		if t.nsSelector == nil || !t.nsSelector.Matches(nsLabels(p.pod.Namespace)) {
			return false
		}
	}
	return t.selector.matches(p.pod.Labels)
}

func (t *affinityTerm) inNamespace(ns string) bool {
	if t.namespace != "" {
		return t.namespace == ns
	}
	return t.namespaces.Has(ns)
}

// podInfo is everything the plugins need from a pod, computed once when the
// pod enters the queue or the cache rather than once per node.
type podInfo struct {
	pod      *v1.Pod
	key      string // namespace/name
	priority int32

	requests resources // for the fit check: init containers, sidecars, overhead
	// Requests with upstream's non-zero defaults, for scoring.
	nonZeroCPU    int64
	nonZeroMemory int64

	hostPorts []hostPort

	hasNodeAffinity   bool
	requiredNodeAff   nodeaffinity.RequiredNodeAffinity
	preferredNodeAff  *nodeaffinity.PreferredSchedulingTerms
	preferredAffTerms int // number of preferred node affinity terms

	requiredAffinity      []affinityTerm
	requiredAntiAffinity  []affinityTerm
	preferredAffinity     []affinityTerm
	preferredAntiAffinity []affinityTerm

	hardSpread []spreadConstraint
	softSpread []spreadConstraint

	// controllerUID identifies the owning controller (ReplicaSet, Job, ...)
	// for selector spreading; empty when the pod has none.
	controllerUID types.UID

	// parseErr records a malformed selector; such a pod is unschedulable.
	parseErr error
}

func (p *podInfo) hasAffinityTerms() bool {
	return len(p.requiredAffinity) > 0 || len(p.requiredAntiAffinity) > 0 ||
		len(p.preferredAffinity) > 0 || len(p.preferredAntiAffinity) > 0
}

func newPodInfo(pod *v1.Pod) *podInfo {
	pi := &podInfo{
		pod:      pod,
		key:      pod.Namespace + "/" + pod.Name,
		priority: corev1helpers.PodPriority(pod),
	}
	pi.requests = newResources(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
	nonZero := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{
		NonMissingContainerRequests: v1.ResourceList{
			v1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
			v1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI),
		},
	})
	pi.nonZeroCPU = nonZero.Cpu().MilliValue()
	pi.nonZeroMemory = nonZero.Memory().Value()

	pi.hostPorts = podHostPorts(pod)

	aff := pod.Spec.Affinity
	if len(pod.Spec.NodeSelector) > 0 || (aff != nil && aff.NodeAffinity != nil && aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil) {
		pi.hasNodeAffinity = true
		pi.requiredNodeAff = nodeaffinity.GetRequiredNodeAffinity(pod)
	}
	if aff != nil && aff.NodeAffinity != nil && len(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		terms, err := nodeaffinity.NewPreferredSchedulingTerms(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		if err != nil {
			pi.parseErr = err
		} else {
			pi.preferredNodeAff = terms
			pi.preferredAffTerms = len(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	if aff != nil && aff.PodAffinity != nil {
		pi.requiredAffinity = pi.parseTerms(aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, 0)
		pi.preferredAffinity = pi.parseWeightedTerms(aff.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if aff != nil && aff.PodAntiAffinity != nil {
		pi.requiredAntiAffinity = pi.parseTerms(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, 0)
		pi.preferredAntiAffinity = pi.parseWeightedTerms(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	pi.hardSpread, pi.softSpread = pi.parseSpreadConstraints(pod)

	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		pi.controllerUID = ref.UID
	}
	return pi
}

func (p *podInfo) parseTerms(terms []v1.PodAffinityTerm, weight int32) []affinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(p.pod, &terms[i], weight)
		if err != nil {
			p.parseErr = err
			continue
		}
		out = append(out, t)
	}
	return out
}

func (p *podInfo) parseWeightedTerms(terms []v1.WeightedPodAffinityTerm) []affinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]affinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(p.pod, &terms[i].PodAffinityTerm, terms[i].Weight)
		if err != nil {
			p.parseErr = err
			continue
		}
		out = append(out, t)
	}
	return out
}

// newAffinityTerm parses a term the way upstream does: no namespaces and no
// namespace selector means the pod's own namespace; an empty namespace
// selector means every namespace; matchLabelKeys/mismatchLabelKeys are
// resolved against the pod's own labels.
func newAffinityTerm(pod *v1.Pod, term *v1.PodAffinityTerm, weight int32) (affinityTerm, error) {
	ls := term.LabelSelector
	if len(term.MatchLabelKeys) > 0 || len(term.MismatchLabelKeys) > 0 {
		ls = mergeLabelKeys(ls, pod.Labels, term.MatchLabelKeys, term.MismatchLabelKeys)
	}
	sel, err := newPodSelector(ls)
	if err != nil {
		return affinityTerm{}, err
	}
	t := affinityTerm{
		namespaces:  sets.New(term.Namespaces...),
		selector:    sel,
		topologyKey: term.TopologyKey,
		weight:      weight,
	}
	if term.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
		if err != nil {
			return affinityTerm{}, err
		}
		t.nsSelector = nsSel
	} else if len(term.Namespaces) == 0 {
		t.namespaces.Insert(pod.Namespace)
	}
	if t.namespaces.Len() == 1 {
		t.namespace = t.namespaces.UnsortedList()[0]
	}
	return t, nil
}

// mergeLabelKeys adds "key in (pod's value)" for matchLabelKeys and
// "key notin (pod's value)" for mismatchLabelKeys to a copy of ls.
func mergeLabelKeys(ls *metav1.LabelSelector, podLabels map[string]string, match, mismatch []string) *metav1.LabelSelector {
	out := &metav1.LabelSelector{}
	if ls != nil {
		out = ls.DeepCopy()
	}
	for _, k := range match {
		if v, ok := podLabels[k]; ok {
			out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpIn, Values: []string{v}})
		}
	}
	for _, k := range mismatch {
		if v, ok := podLabels[k]; ok {
			out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: metav1.LabelSelectorOpNotIn, Values: []string{v}})
		}
	}
	return out
}

// podHostPorts lists the host ports of the pod's containers and restartable
// init containers (sidecars keep theirs while the pod runs).
func podHostPorts(pod *v1.Pod) []hostPort {
	var out []hostPort
	collect := func(c *v1.Container) {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			hp := hostPort{ip: p.HostIP, protocol: p.Protocol, port: p.HostPort}
			if hp.ip == "" {
				hp.ip = "0.0.0.0"
			}
			if hp.protocol == "" {
				hp.protocol = v1.ProtocolTCP
			}
			out = append(out, hp)
		}
	}
	for i := range pod.Spec.Containers {
		collect(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			collect(c)
		}
	}
	return out
}
