package daemonset

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller/controllerutil"
)

// Taint keys DaemonSet pods tolerate automatically, as upstream adds them.
const (
	taintNotReady           = "node.kubernetes.io/not-ready"
	taintUnreachable        = "node.kubernetes.io/unreachable"
	taintDiskPressure       = "node.kubernetes.io/disk-pressure"
	taintMemoryPressure     = "node.kubernetes.io/memory-pressure"
	taintPIDPressure        = "node.kubernetes.io/pid-pressure"
	taintUnschedulable      = "node.kubernetes.io/unschedulable"
	taintNetworkUnavailable = "node.kubernetes.io/network-unavailable"

	// templateGenerationLabel is upstream's older pod-to-template link, still set on pods.
	templateGenerationLabel = "pod-template-generation"
)

// withDaemonTolerations returns spec with upstream's automatic DaemonSet tolerations added: a
// daemon keeps running on not-ready/unreachable nodes and is placed despite pressure conditions
// and cordoning.
func withDaemonTolerations(spec *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		for _, t := range spec.Tolerations {
			if t.Key == key && t.Effect == effect && t.Operator == corev1.TolerationOpExists {
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect})
	}
	add(taintNotReady, corev1.TaintEffectNoExecute)
	add(taintUnreachable, corev1.TaintEffectNoExecute)
	add(taintDiskPressure, corev1.TaintEffectNoSchedule)
	add(taintMemoryPressure, corev1.TaintEffectNoSchedule)
	add(taintPIDPressure, corev1.TaintEffectNoSchedule)
	add(taintUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(taintNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// pinToNode makes the pod schedulable only on nodeName, replacing its required node affinity
// terms with a matchFields term on metadata.name (the node already satisfied the original ones).
func pinToNode(spec *corev1.PodSpec, nodeName string) {
	term := corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{
		Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName},
	}}}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{term},
	}
}

// pinnedNode returns the node a daemon pod belongs to: where it is bound, or where its
// metadata.name affinity pins it.
func pinnedNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// newDaemonPod builds the daemon pod for node.
func newDaemonPod(ds *appsv1.DaemonSet, nodeName, hash string) *corev1.Pod {
	tmpl := ds.Spec.Template.DeepCopy()
	withDaemonTolerations(&tmpl.Spec)
	pod := controllerutil.PodFromTemplate(tmpl, ds, controllerKind)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[controllerutil.ControllerRevisionHashLabel] = hash
	pod.Labels[templateGenerationLabel] = strconv.FormatInt(ds.Generation, 10)
	pinToNode(&pod.Spec, nodeName)
	return pod
}

// shouldRun decides whether node should run ds's pod, and whether an existing one may stay: a
// NoSchedule taint keeps new pods off but lets running ones continue, a NoExecute one does not.
func shouldRun(ds *appsv1.DaemonSet, node *corev1.Node) (run, keep bool) {
	if ds.Spec.Template.Spec.NodeName != "" && ds.Spec.Template.Spec.NodeName != node.Name {
		return false, false
	}
	spec := ds.Spec.Template.Spec.DeepCopy()
	withDaemonTolerations(spec)
	pod := &corev1.Pod{Spec: *spec}
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !ok {
		return false, false
	}
	logger := klog.Background()
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
	}, false); !untolerated {
		return true, true
	}
	_, untoleratedNoExecute := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, spec.Tolerations, func(t *corev1.Taint) bool {
		return t.Effect == corev1.TaintEffectNoExecute
	}, false)
	return false, !untoleratedNoExecute
}

// isUpdated reports whether pod was made from the current template.
func isUpdated(pod *corev1.Pod, hash string, generation int64) bool {
	if h, ok := pod.Labels[controllerutil.ControllerRevisionHashLabel]; ok {
		return h == hash
	}
	return pod.Labels[templateGenerationLabel] == strconv.FormatInt(generation, 10)
}

func runtimeRaw(data []byte) runtime.RawExtension { return runtime.RawExtension{Raw: data} }
