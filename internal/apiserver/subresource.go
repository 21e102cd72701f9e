package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/skiff-sh/skiff/internal/store"
)

func (h *resourceHandler) serveSubresource(w http.ResponseWriter, r *http.Request, ri requestInfo) {
	ctx := r.Context()
	switch ri.subresource {
	case "status":
		switch r.Method {
		case http.MethodGet:
			h.get(ctx, w, r, ri)
		case http.MethodPut:
			h.update(ctx, w, r, ri, "status")
		case http.MethodPatch:
			h.patch(ctx, w, r, ri, "status")
		default:
			writeError(w, apierrors.NewMethodNotSupported(h.res.GroupResource(), r.Method))
		}
	case "scale":
		h.serveScale(ctx, w, r, ri)
	case "binding":
		h.bind(ctx, w, r, ri)
	case "eviction":
		h.evict(ctx, w, r, ri)
	case "finalize":
		h.finalize(ctx, w, r, ri)
	case "log", "exec", "attach", "portforward", "proxy":
		h.s.proxyToNode(w, r, ri)
	case "token":
		h.s.serveToken(ctx, w, r, ri)
	default:
		writeError(w, apierrors.NewMethodNotSupported(h.res.GroupResource(), r.Method+" "+ri.subresource))
	}
}

// replicasField, statusReplicas and selectorOf read the fields the scale subresource maps.
func replicasField(obj runtime.Object) reflect.Value {
	return reflect.ValueOf(obj).Elem().FieldByName("Spec").FieldByName("Replicas")
}

func scaleOf(obj runtime.Object) *autoscalingv1.Scale {
	acc, _ := meta.Accessor(obj)
	sc := &autoscalingv1.Scale{TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), CreationTimestamp: acc.GetCreationTimestamp()}}
	if rv := replicasField(obj); rv.IsValid() && !rv.IsNil() {
		sc.Spec.Replicas = int32(rv.Elem().Int())
	}
	status := reflect.ValueOf(obj).Elem().FieldByName("Status")
	if sr := status.FieldByName("Replicas"); sr.IsValid() {
		sc.Status.Replicas = int32(sr.Int())
	}
	switch sel := reflect.ValueOf(obj).Elem().FieldByName("Spec").FieldByName("Selector").Interface().(type) {
	case *metav1.LabelSelector:
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil {
			sc.Status.Selector = s.String()
		}
	case map[string]string:
		sc.Status.Selector = labels.SelectorFromSet(sel).String()
	}
	return sc
}

func (h *resourceHandler) serveScale(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	writeScale := func(code int, obj runtime.Object) { writeJSON(w, code, scaleOf(obj)) }
	if r.Method == http.MethodGet {
		obj, err := h.read(ctx, ri.namespace, ri.name, false)
		if err != nil {
			writeError(w, err)
			return
		}
		writeScale(http.StatusOK, obj)
		return
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPatch {
		writeError(w, apierrors.NewMethodNotSupported(h.res.GroupResource(), r.Method))
		return
	}
	opts, body, ok := readWrite(w, r)
	if !ok {
		return
	}
	pt := types.PatchType(mediaType(r.Header.Get("Content-Type")))
	out, _, err := h.updateObject(ctx, ri, "", opts, func(cur runtime.Object) (runtime.Object, error) {
		cs := scaleOf(cur)
		var want autoscalingv1.Scale
		if r.Method == http.MethodPut {
			if err := h.s.codecs.decodeOptions(r.Header.Get("Content-Type"), body, &want); err != nil {
				return nil, err
			}
		} else {
			curJSON, _ := json.Marshal(cs)
			var patched []byte
			var err error
			switch pt {
			case types.JSONPatchType:
				var p jsonpatch.Patch
				if p, err = jsonpatch.DecodePatch(body); err == nil {
					patched, err = p.Apply(curJSON)
				}
			case types.MergePatchType:
				patched, err = jsonpatch.MergePatch(curJSON, body)
			case types.StrategicMergePatchType:
				patched, err = strategicpatch.StrategicMergePatch(curJSON, body, &autoscalingv1.Scale{})
			case types.ApplyPatchType:
				var data []byte
				if data, err = bodyToJSON(string(pt), body); err == nil {
					patched, err = jsonpatch.MergePatch(curJSON, data)
				}
			default:
				return nil, unsupportedMediaType(string(pt))
			}
			if err == nil {
				err = json.Unmarshal(patched, &want)
			}
			if err != nil {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid scale patch: %v", err))
			}
		}
		if want.ResourceVersion != "" && want.ResourceVersion != cs.ResourceVersion {
			return nil, apierrors.NewConflict(h.res.GroupResource(), ri.name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		if want.Spec.Replicas < 0 {
			return nil, invalid(h, ri.name, nil)
		}
		n := want.Spec.Replicas
		replicasField(cur).Set(reflect.ValueOf(&n))
		return cur, nil
	}, false)
	if err != nil {
		writeError(w, err)
		return
	}
	writeScale(http.StatusOK, out)
}

// writeCreatedStatus answers a successful POST to an action subresource (binding, eviction).
func writeCreatedStatus(w http.ResponseWriter) {
	writeJSON(w, http.StatusCreated, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// bind assigns a pod to a node (pods/binding), once.
func (h *resourceHandler) bind(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	var b corev1.Binding
	if !h.s.codecs.readOptionsBody(w, r, http.MethodPost, h.res.GroupResource(), &b) {
		return
	}
	if b.Target.Name == "" {
		writeError(w, apierrors.NewBadRequest("binding target name is required"))
		return
	}
	if opts, err := parseWriteOptions(r); err != nil {
		writeError(w, err)
		return
	} else if opts.dryRun {
		writeCreatedStatus(w)
		return
	}
	_, _, err := h.storage.Update(ctx, h.key(ri.namespace, ri.name), func(cur runtime.Object) (runtime.Object, store.Action, store.Reservations, error) {
		pod := cur.DeepCopyObject().(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, store.Keep, store.Reservations{}, apierrors.NewConflict(h.res.GroupResource(), ri.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", ri.name))
		}
		if pod.Spec.NodeName != "" {
			return nil, store.Keep, store.Reservations{}, apierrors.NewConflict(h.res.GroupResource(), ri.name, fmt.Errorf("pod %s is already assigned to node %q", ri.name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, store.Keep, store.Reservations{}, apierrors.NewConflict(h.res.GroupResource(), ri.name, fmt.Errorf("pod %s UID does not match binding", ri.name))
		}
		pod.Spec.NodeName = b.Target.Name
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()})
		return pod, store.Put, store.Reservations{}, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeCreatedStatus(w)
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			if pod.Status.Conditions[i].Status != c.Status {
				pod.Status.Conditions[i] = c
			}
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// evict deletes a pod unless a PodDisruptionBudget forbids it (pods/eviction, used by drain).
func (h *resourceHandler) evict(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	var ev policyv1.Eviction
	if !h.s.codecs.readOptionsBody(w, r, http.MethodPost, h.res.GroupResource(), &ev) {
		return
	}
	obj, err := h.storage.Get(ctx, h.key(ri.namespace, ri.name))
	if err != nil {
		writeError(w, err)
		return
	}
	pod := obj.(*corev1.Pod)
	terminal := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	if !terminal && pod.DeletionTimestamp == nil {
		if err := h.s.checkDisruptionBudgets(ctx, pod); err != nil {
			writeError(w, err)
			return
		}
	}
	opts := ev.DeleteOptions
	if opts == nil {
		opts = &metav1.DeleteOptions{}
	}
	if _, err := h.deleteObject(ctx, ri.namespace, ri.name, opts, false); err != nil {
		writeError(w, err)
		return
	}
	writeCreatedStatus(w)
}

// checkDisruptionBudgets answers 429 when evicting pod would take a matching budget below its
// floor, counting the budget's healthy pods now (skiff computes it at eviction time).
func (s *Server) checkDisruptionBudgets(ctx context.Context, pod *corev1.Pod) error {
	ph := s.byGR[policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets").GroupResource()]
	podh := s.byGR[corev1.SchemeGroupVersion.WithResource("pods").GroupResource()]
	if ph == nil || podh == nil {
		return nil
	}
	pdbs, err := ph.storage.List(ctx, store.ListOptions{Prefix: pod.Namespace + "/", ResourceVersion: "0"})
	if err != nil {
		return err
	}
	for _, it := range pdbs.Items {
		pdb := it.Obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		pods, err := podh.storage.List(ctx, store.ListOptions{Prefix: pod.Namespace + "/", ResourceVersion: "0",
			Predicate: func(o runtime.Object) bool { return sel.Matches(labels.Set(o.(*corev1.Pod).Labels)) }})
		if err != nil {
			return err
		}
		expected, healthy := 0, 0
		for _, p := range pods.Items {
			pp := p.Obj.(*corev1.Pod)
			if pp.DeletionTimestamp != nil || pp.Status.Phase == corev1.PodSucceeded || pp.Status.Phase == corev1.PodFailed {
				continue
			}
			expected++
			if podReady(pp) {
				healthy++
			}
		}
		allowed := 0
		switch {
		case pdb.Spec.MinAvailable != nil:
			min, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, expected, true)
			allowed = healthy - min
		case pdb.Spec.MaxUnavailable != nil:
			max, _ := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, expected, true)
			allowed = max - (expected - healthy)
		}
		if allowed < 1 || !podReady(pod) && allowed < 1 {
			return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: http.StatusTooManyRequests,
				Reason: metav1.StatusReasonTooManyRequests, Message: "Cannot evict pod as it would violate the pod's disruption budget.",
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "DisruptionBudget",
					Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, healthy-allowed, healthy)}}}}}
		}
	}
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// finalize updates a namespace's spec.finalizers (namespaces/finalize), deleting it when the
// last finalizer goes while it is being deleted.
func (h *resourceHandler) finalize(ctx context.Context, w http.ResponseWriter, r *http.Request, ri requestInfo) {
	var want corev1.Namespace
	if !h.s.codecs.readOptionsBody(w, r, http.MethodPut, h.res.GroupResource(), &want) {
		return
	}
	out, _, err := h.storage.Update(ctx, ri.name, func(cur runtime.Object) (runtime.Object, store.Action, store.Reservations, error) {
		ns := cur.DeepCopyObject().(*corev1.Namespace)
		if want.ResourceVersion != "" && want.ResourceVersion != ns.ResourceVersion {
			return nil, store.Keep, store.Reservations{}, apierrors.NewConflict(h.res.GroupResource(), ri.name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
		}
		ns.Spec.Finalizers = want.Spec.Finalizers
		if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
			return ns, store.Delete, store.Reservations{}, nil
		}
		return ns, store.Put, store.Reservations{}, nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	h.writeObject(w, r, http.StatusOK, out)
}

// defaultContainer picks the container a log/exec/attach request means.
func defaultContainer(pod *corev1.Pod, asked string) (string, error) {
	if asked != "" {
		for _, c := range append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...) {
			if c.Name == asked {
				return asked, nil
			}
		}
		for _, c := range pod.Spec.EphemeralContainers {
			if c.Name == asked {
				return asked, nil
			}
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", asked, pod.Name))
	}
	if name := pod.Annotations["kubectl.kubernetes.io/default-container"]; name != "" {
		return name, nil
	}
	if len(pod.Spec.Containers) == 1 {
		return pod.Spec.Containers[0].Name, nil
	}
	names := make([]string, len(pod.Spec.Containers))
	for i, c := range pod.Spec.Containers {
		names[i] = c.Name
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, strings.Join(names, " ")))
}
