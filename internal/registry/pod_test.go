package registry

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func podStrategyForTest(t *testing.T) Strategy { return strategyOf(t, "", "v1", "pods") }

func TestPodDefaultsOfMinimalPod(t *testing.T) {
	s := podStrategyForTest(t)
	pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: minimalPodSpec()}
	if errs := create(s, pod); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	grace := int64(30)
	want := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx:1.27",
			ImagePullPolicy:          corev1.PullIfNotPresent,
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		}},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		DNSPolicy:                     corev1.DNSClusterFirst,
		TerminationGracePeriodSeconds: &grace,
		SchedulerName:                 "default-scheduler",
		SecurityContext:               &corev1.PodSecurityContext{},
		EnableServiceLinks:            new(true),
		ServiceAccountName:            "default",
		DeprecatedServiceAccount:      "default",
		Tolerations: []corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
			{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
		},
	}
	if !apiequality.Semantic.DeepEqual(pod.Spec, want) {
		t.Errorf("spec = %+v\nwant %+v", pod.Spec, want)
	}
	if pod.Status.Phase != corev1.PodPending || pod.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("status = %+v, want Pending/BestEffort", pod.Status)
	}
}

func TestPodDefaultsOfNestedFields(t *testing.T) {
	spec := minimalPodSpec()
	c := &spec.Containers[0]
	c.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
	c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
	c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}}
	c.Env = []corev1.EnvVar{{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	spec.Volumes = []corev1.Volume{
		{Name: "scratch"},
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "sec"}}},
		{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}}},
		{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
		{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
	}
	spec.HostNetwork = true
	pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: spec}
	if errs := create(podStrategyForTest(t), pod); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	c = &pod.Spec.Containers[0]
	if p := c.Ports[0]; p.Protocol != corev1.ProtocolTCP || p.HostPort != 80 {
		t.Errorf("port = %+v, want TCP with hostPort 80 on the host network", p)
	}
	probe := c.LivenessProbe
	if probe.TimeoutSeconds != 1 || probe.PeriodSeconds != 10 || probe.SuccessThreshold != 1 || probe.FailureThreshold != 3 ||
		probe.HTTPGet.Path != "/" || probe.HTTPGet.Scheme != corev1.URISchemeHTTP {
		t.Errorf("probe = %+v", probe)
	}
	if h := c.Lifecycle.PreStop.HTTPGet; h.Path != "/" || h.Scheme != corev1.URISchemeHTTP {
		t.Errorf("preStop httpGet = %+v", h)
	}
	if c.Env[0].ValueFrom.FieldRef.APIVersion != "v1" {
		t.Errorf("fieldRef apiVersion not defaulted")
	}
	if !apiequality.Semantic.DeepEqual(c.Resources.Requests, c.Resources.Limits) {
		t.Errorf("requests = %v, want the limits %v", c.Resources.Requests, c.Resources.Limits)
	}
	if pod.Status.QOSClass != corev1.PodQOSGuaranteed {
		t.Errorf("qos = %s, want Guaranteed", pod.Status.QOSClass)
	}
	vols := pod.Spec.Volumes
	if vols[0].EmptyDir == nil {
		t.Errorf("volume without source is not an emptyDir: %+v", vols[0])
	}
	for _, mode := range []*int32{vols[1].ConfigMap.DefaultMode, vols[2].Secret.DefaultMode, vols[4].DownwardAPI.DefaultMode, vols[5].Projected.DefaultMode} {
		if mode == nil || *mode != 0o644 {
			t.Errorf("defaultMode = %v, want 0644", mode)
		}
	}
	if vols[3].HostPath.Type == nil || *vols[3].HostPath.Type != "" {
		t.Errorf("hostPath type = %v, want \"\"", vols[3].HostPath.Type)
	}
	if e := vols[5].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds; e == nil || *e != 3600 {
		t.Errorf("token expiration = %v, want 3600", e)
	}
}

func TestImagePullPolicyDefault(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"nginx":                 corev1.PullAlways,
		"nginx:latest":          corev1.PullAlways,
		"nginx:1.27":            corev1.PullIfNotPresent,
		"localhost:5000/app":    corev1.PullAlways,
		"localhost:5000/app:v2": corev1.PullIfNotPresent,
		"busybox@sha256:" + strings.Repeat("a", 64):        corev1.PullIfNotPresent,
		"busybox:latest@sha256:" + strings.Repeat("a", 64): corev1.PullAlways,
	} {
		c := corev1.Container{Image: image}
		defaultContainer(&c)
		if c.ImagePullPolicy != want {
			t.Errorf("%s: pull policy %s, want %s", image, c.ImagePullPolicy, want)
		}
	}
}

func TestPodPrepareForCreateKeepsChosenServiceAccountAndTolerations(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: minimalPodSpec()}
	pod.Spec.DeprecatedServiceAccount = "builder"
	pod.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	pod.Status.Phase = corev1.PodRunning
	if errs := create(podStrategyForTest(t), pod); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	if pod.Spec.ServiceAccountName != "builder" || pod.Spec.DeprecatedServiceAccount != "builder" {
		t.Errorf("service account = %q/%q, want builder", pod.Spec.ServiceAccountName, pod.Spec.DeprecatedServiceAccount)
	}
	if len(pod.Spec.Tolerations) != 1 {
		t.Errorf("tolerations = %v: a pod tolerating everything needs no defaults", pod.Spec.Tolerations)
	}
	if pod.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s, want Pending", pod.Status.Phase)
	}
}

func TestPodTemplateDefaultsLeavePodOnlyFields(t *testing.T) {
	tmpl := minimalTemplate()
	tmpl.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}
	defaultPodTemplateSpec(&tmpl)
	if tmpl.Spec.EnableServiceLinks != nil || tmpl.Spec.Containers[0].Resources.Requests != nil {
		t.Errorf("template got pod-only defaults: %+v", tmpl.Spec)
	}
	if tmpl.Spec.RestartPolicy != corev1.RestartPolicyAlways || tmpl.Spec.SchedulerName != "default-scheduler" {
		t.Errorf("template lacks pod spec defaults: %+v", tmpl.Spec)
	}
}

func TestPodQOSClass(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	tests := []struct {
		name     string
		requests corev1.ResourceList
		limits   corev1.ResourceList
		want     corev1.PodQOSClass
	}{
		{"nothing", nil, nil, corev1.PodQOSBestEffort},
		{"requests only", rl("100m", ""), nil, corev1.PodQOSBurstable},
		{"limits only", nil, rl("1", "1Gi"), corev1.PodQOSGuaranteed},
		{"equal", rl("1", "1Gi"), rl("1", "1Gi"), corev1.PodQOSGuaranteed},
		{"requests below limits", rl("500m", "1Gi"), rl("1", "1Gi"), corev1.PodQOSBurstable},
		{"cpu limit only", nil, rl("1", ""), corev1.PodQOSBurstable},
		{"zero request", rl("0", "1Gi"), rl("1", "1Gi"), corev1.PodQOSBurstable},
		{"other resources only", corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")}, nil, corev1.PodQOSBestEffort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := minimalPodSpec()
			spec.Containers[0].Resources = corev1.ResourceRequirements{Requests: tc.requests, Limits: tc.limits}
			if got := podQOSClass(&spec); got != tc.want {
				t.Errorf("qos = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("one container short of limits", func(t *testing.T) {
		spec := minimalPodSpec()
		spec.Containers[0].Resources.Limits = rl("1", "1Gi")
		spec.Containers = append(spec.Containers, corev1.Container{Name: "side", Image: "busybox"})
		if got := podQOSClass(&spec); got != corev1.PodQOSBurstable {
			t.Errorf("qos = %s, want Burstable", got)
		}
	})
	t.Run("pod-level resources", func(t *testing.T) {
		spec := minimalPodSpec()
		spec.Resources = &corev1.ResourceRequirements{Limits: rl("2", "2Gi")}
		if got := podQOSClass(&spec); got != corev1.PodQOSGuaranteed {
			t.Errorf("qos = %s, want Guaranteed", got)
		}
	})
}

func TestPodUpdate(t *testing.T) {
	s := podStrategyForTest(t)
	newPod := func() *corev1.Pod {
		pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: minimalPodSpec()}
		pod.Spec.ActiveDeadlineSeconds = new(int64(100))
		pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		if errs := create(s, pod); len(errs) != 0 {
			t.Fatalf("create: %v", errs)
		}
		return pod
	}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"labels only", func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, nil},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, nil},
		{"empty image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, []string{"Required spec.containers[0].image"}},
		{"shorter deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(50)) }, nil},
		{"longer deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(200)) }, []string{"Invalid spec.activeDeadlineSeconds"}},
		{"removed deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil }, []string{"Invalid spec.activeDeadlineSeconds"}},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists})
		}, nil},
		{"changed toleration", func(p *corev1.Pod) { p.Spec.Tolerations[0].Key = "other" }, []string{"Forbidden spec.tolerations"}},
		{"removed scheduling gate", func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }, nil},
		{"added scheduling gate", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "example.com/more"})
		}, []string{"Forbidden spec.schedulingGates[1].name"}},
		{"binding", func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, nil},
		{"port change", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
		}, []string{"Forbidden spec"}},
		{"added container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "busybox"})
		}, []string{"Forbidden spec.containers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := newPod()
			pod := old.DeepCopy()
			tc.mutate(pod)
			checkErrors(t, update(s, pod, old), tc.want...)
		})
	}

	t.Run("forbidden message names the updatable fields", func(t *testing.T) {
		old := newPod()
		pod := old.DeepCopy()
		pod.Spec.Containers[0].Args = []string{"-v"}
		errs := update(s, pod, old)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Detail, "pod updates may not change fields other than `spec.containers[*].image`") {
			t.Errorf("errors = %v", errs)
		}
	})
	t.Run("node name fixed once bound", func(t *testing.T) {
		old := newPod()
		old.Spec.NodeName = "node-1"
		pod := old.DeepCopy()
		pod.Spec.NodeName = "node-2"
		checkErrors(t, update(s, pod, old), "Invalid spec.nodeName")
	})
}

func TestPodFieldSet(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: meta("web"), Spec: minimalPodSpec()}
	pod.Spec.NodeName = "node-1"
	pod.Spec.HostNetwork = true
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}}, NominatedNodeName: "node-2"}
	s := podStrategyForTest(t)
	s.Default(pod)
	want := fields.Set{
		"spec.nodeName": "node-1", "spec.restartPolicy": "Always", "spec.schedulerName": "default-scheduler",
		"spec.serviceAccountName": "", "spec.hostNetwork": "true", "status.phase": "Running",
		"status.podIP": "10.0.0.5", "status.nominatedNodeName": "node-2",
	}
	if got := s.FieldSet(pod); !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("fields = %v\nwant %v", got, want)
	}
	if pod.Status.PodIP != "10.0.0.5" {
		t.Errorf("status.podIP not filled from podIPs: %q", pod.Status.PodIP)
	}
}
