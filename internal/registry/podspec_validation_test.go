package registry

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestPodSpecValidation(t *testing.T) {
	withVolume := func(s *corev1.PodSpec, v corev1.Volume) { s.Volumes = append(s.Volumes, v) }
	c0 := func(s *corev1.PodSpec) *corev1.Container { return &s.Containers[0] }
	tests := []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   []string
	}{
		{"minimal", func(*corev1.PodSpec) {}, nil},
		{"no containers", func(s *corev1.PodSpec) { s.Containers = nil }, []string{"Required spec.containers"}},
		{"container name missing", func(s *corev1.PodSpec) { c0(s).Name = "" }, []string{"Required spec.containers[0].name"}},
		{"container name not a label", func(s *corev1.PodSpec) { c0(s).Name = "App_1" }, []string{"Invalid spec.containers[0].name"}},
		{"duplicate container names", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{{Name: "app", Image: "busybox"}}
		}, []string{"Duplicate spec.initContainers[0].name"}},
		{"image missing", func(s *corev1.PodSpec) { c0(s).Image = "" }, []string{"Required spec.containers[0].image"}},
		{"image with spaces", func(s *corev1.PodSpec) { c0(s).Image = " nginx" }, []string{"Invalid spec.containers[0].image"}},
		{"bad pull policy", func(s *corev1.PodSpec) { c0(s).ImagePullPolicy = "Sometimes" }, []string{"NotSupported spec.containers[0].imagePullPolicy"}},
		{"valid ports", func(s *corev1.PodSpec) {
			c0(s).Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
		}, nil},
		{"bad ports", func(s *corev1.PodSpec) {
			c0(s).Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 0},
				{Name: "http", ContainerPort: 70000, HostPort: -1},
				{Name: "Not_Valid", ContainerPort: 81, Protocol: "ICMP"},
			}
		}, []string{"Required spec.containers[0].ports[0].containerPort", "Duplicate spec.containers[0].ports[1].name",
			"Invalid spec.containers[0].ports[1].containerPort", "Invalid spec.containers[0].ports[1].hostPort",
			"Invalid spec.containers[0].ports[2].name", "NotSupported spec.containers[0].ports[2].protocol"}},
		{"host port conflict", func(s *corev1.PodSpec) {
			c0(s).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			s.Containers = append(s.Containers, corev1.Container{Name: "b", Image: "b", Ports: []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080}}})
		}, []string{"Duplicate spec.containers[1].ports[0].hostPort"}},
		{"host network remap", func(s *corev1.PodSpec) {
			s.HostNetwork = true
			c0(s).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		}, []string{"Invalid spec.containers[0].ports[0].containerPort"}},
		{"restart policy", func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes" }, []string{"NotSupported spec.restartPolicy"}},
		{"dns policy", func(s *corev1.PodSpec) { s.DNSPolicy = "Google" }, []string{"NotSupported spec.dnsPolicy"}},
		{"dns none without config", func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSNone }, []string{"Required spec.dnsConfig"}},
		{"dns config", func(s *corev1.PodSpec) {
			s.DNSPolicy = corev1.DNSNone
			s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "bad"}, Searches: []string{"svc.cluster.local.", "-bad"}, Options: []corev1.PodDNSConfigOption{{}}}
		}, []string{"Invalid spec.dnsConfig.nameservers[1]", "Invalid spec.dnsConfig.searches[1]", "Required spec.dnsConfig.options[0]"}},
		{"volumes", func(s *corev1.PodSpec) {
			withVolume(s, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			withVolume(s, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			withVolume(s, corev1.Volume{Name: "Bad_Name", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			withVolume(s, corev1.Volume{Name: "two", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}})
		}, []string{"Duplicate spec.volumes[1].name", "Invalid spec.volumes[2].name", "Forbidden spec.volumes[3].emptyDir"}},
		{"volume sources", func(s *corev1.PodSpec) {
			withVolume(s, corev1.Volume{Name: "a", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{DefaultMode: new(int32(0o1000))}}})
			withVolume(s, corev1.Volume{Name: "b", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
				Items: []corev1.KeyToPath{{Key: "k", Path: "../etc"}, {Path: "/abs"}}}}})
			withVolume(s, corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{}}})
			withVolume(s, corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{}}})
			withVolume(s, corev1.Volume{Name: "e", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(60))}}}}}})
		}, []string{"Required spec.volumes[0].secret.secretName", "Invalid spec.volumes[0].secret.defaultMode",
			"Required spec.volumes[1].configMap.name", "Invalid spec.volumes[1].configMap.items[0].path",
			"Required spec.volumes[1].configMap.items[1].key", "Invalid spec.volumes[1].configMap.items[1].path",
			"Required spec.volumes[2].persistentVolumeClaim.claimName", "Required spec.volumes[3].hostPath.path",
			"Invalid spec.volumes[4].projected.sources[0].serviceAccountToken.expirationSeconds"}},
		{"volume mounts", func(s *corev1.PodSpec) {
			withVolume(s, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
			c0(s).VolumeMounts = []corev1.VolumeMount{
				{Name: "data", MountPath: "/data"},
				{Name: "missing", MountPath: "/missing"},
				{Name: "data", MountPath: "/data"},
				{Name: "data", MountPath: "/sub", SubPath: "../up"},
				{Name: "data"},
			}
		}, []string{"NotFound spec.containers[0].volumeMounts[1].name", "Invalid spec.containers[0].volumeMounts[2].mountPath",
			"Invalid spec.containers[0].volumeMounts[3].subPath", "Required spec.containers[0].volumeMounts[4].mountPath"}},
		{"resources", func(s *corev1.PodSpec) {
			c0(s).Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("-1")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), "gpus": resource.MustParse("1")},
			}
		}, []string{"Invalid spec.containers[0].resources.requests", "Invalid spec.containers[0].resources.requests[memory]",
			"Invalid spec.containers[0].resources.limits[gpus]"}},
		{"extended resources", func(s *corev1.PodSpec) {
			c0(s).Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{"example.com/gpu": resource.MustParse("1"), "example.com/fpga": resource.MustParse("500m")},
				Limits:   corev1.ResourceList{"example.com/fpga": resource.MustParse("1")},
			}
		}, []string{"Required spec.containers[0].resources.limits", "Invalid spec.containers[0].resources.requests[example.com/fpga]",
			"Invalid spec.containers[0].resources.requests"}},
		{"env", func(s *corev1.PodSpec) {
			c0(s).Env = []corev1.EnvVar{
				{Name: "OK", Value: "1"},
				{Name: ""},
				{Name: "A=B"},
				{Name: "BOTH", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
				{Name: "BADFIELD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.containers"}}},
				{Name: "LABEL", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app']"}}},
				{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "pw"}}},
				{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1Mi")}}},
			}
			c0(s).EnvFrom = []corev1.EnvFromSource{{}, {ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}}
		}, []string{"Required spec.containers[0].env[1].name", "Invalid spec.containers[0].env[2].name",
			"Invalid spec.containers[0].env[3].valueFrom", "NotSupported spec.containers[0].env[4].valueFrom.fieldRef.fieldPath",
			"Required spec.containers[0].env[6].valueFrom.secretKeyRef.name", "Invalid spec.containers[0].env[7].valueFrom.resourceFieldRef.divisor",
			"Invalid spec.containers[0].envFrom[0]"}},
		{"probes", func(s *corev1.PodSpec) {
			c0(s).LivenessProbe = &corev1.Probe{SuccessThreshold: 2, TimeoutSeconds: 1, PeriodSeconds: 1, FailureThreshold: 1}
			c0(s).ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
				HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("Bad Port"), Scheme: "HTTP"}, Exec: &corev1.ExecAction{}},
				SuccessThreshold: 3, FailureThreshold: -1}
		}, []string{"Required spec.containers[0].livenessProbe", "Invalid spec.containers[0].livenessProbe.successThreshold",
			"Required spec.containers[0].readinessProbe.exec.command", "Forbidden spec.containers[0].readinessProbe.httpGet",
			"Invalid spec.containers[0].readinessProbe.failureThreshold"}},
		{"init container lifecycle", func(s *corev1.PodSpec) {
			s.InitContainers = []corev1.Container{
				{Name: "init", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}},
				{Name: "sidecar", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					RestartPolicy:  new(corev1.ContainerRestartPolicyAlways),
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}, SuccessThreshold: 1}},
				{Name: "bad", Image: "busybox", ImagePullPolicy: corev1.PullAlways, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
					RestartPolicy: new(corev1.ContainerRestartPolicyNever)},
			}
		}, []string{"Forbidden spec.initContainers[0].readinessProbe", "NotSupported spec.initContainers[2].restartPolicy"}},
		{"tolerations", func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{
				{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
				{Operator: corev1.TolerationOpEqual, Value: "x"},
				{Key: "b", Operator: corev1.TolerationOpExists, Value: "x"},
				{Key: "c", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: new(int64(5))},
				{Key: "d", Operator: "Near", Effect: "Sometimes"},
			}
		}, []string{"Invalid spec.tolerations[1].operator", "Invalid spec.tolerations[2].operator", "Invalid spec.tolerations[3].effect",
			"NotSupported spec.tolerations[4].operator", "NotSupported spec.tolerations[4].effect"}},
		{"affinity", func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{
				NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}},
						MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.labels", Operator: corev1.NodeSelectorOpIn, Values: []string{"x"}}},
					}}},
					PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 0}},
				},
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}},
			}
		}, []string{"Required spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values",
			"NotSupported spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key",
			"Invalid spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
			"Required spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"}},
		{"topology spread", func(s *corev1.PodSpec) {
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
				{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule},
				{MaxSkew: 0, TopologyKey: "", WhenUnsatisfiable: "Maybe"},
			}
		}, []string{"Invalid spec.topologySpreadConstraints[1].maxSkew", "Required spec.topologySpreadConstraints[1].topologyKey",
			"NotSupported spec.topologySpreadConstraints[1].whenUnsatisfiable"}},
		{"names and ids", func(s *corev1.PodSpec) {
			s.NodeName = "Node_1"
			s.ServiceAccountName = "Bad Name"
			s.Hostname = "a.b"
			s.NodeSelector = map[string]string{"disk": "fast ssd"}
			s.ActiveDeadlineSeconds = new(int64(0))
			s.TerminationGracePeriodSeconds = new(int64(-1))
			s.SecurityContext = &corev1.PodSecurityContext{RunAsUser: new(int64(-1))}
		}, []string{"Invalid spec.nodeName", "Invalid spec.serviceAccountName", "Invalid spec.hostname", "Invalid spec.nodeSelector",
			"Invalid spec.activeDeadlineSeconds", "Invalid spec.terminationGracePeriodSeconds", "Invalid spec.securityContext.runAsUser"}},
		{"pod-level resources", func(s *corev1.PodSpec) {
			s.Resources = &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}
		}, []string{"NotSupported spec.resources.requests[ephemeral-storage]", "Invalid spec.resources.requests[cpu]"}},
		{"downward api volume", func(s *corev1.PodSpec) {
			withVolume(s, corev1.Volume{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "node", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}},
				{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}},
				{Path: "nothing"},
			}}}})
		}, []string{"NotSupported spec.volumes[0].downwardAPI.items[1].fieldRef.fieldPath",
			"Required spec.volumes[0].downwardAPI.items[2].resourceFieldRef.containerName", "Required spec.volumes[0].downwardAPI.items[3]"}},
		{"ephemeral container", func(s *corev1.PodSpec) {
			s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}}
		}, []string{"Forbidden spec.ephemeralContainers[0].ports", "Forbidden spec.ephemeralContainers[0].readinessProbe"}},
		{"container security context", func(s *corev1.PodSpec) {
			c0(s).SecurityContext = &corev1.SecurityContext{Privileged: new(true), AllowPrivilegeEscalation: new(false),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}
		}, []string{"Invalid spec.containers[0].securityContext", "Required spec.containers[0].securityContext.seccompProfile.localhostProfile"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := minimalPodSpec()
			tc.mutate(&spec)
			defaultPodSpec(&spec)
			checkErrors(t, validatePodSpec(&spec, field.NewPath("spec"), podSpecExtras{}), tc.want...)
		})
	}
}

func TestPodSpecValidationMessages(t *testing.T) {
	spec := minimalPodSpec()
	spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
	}
	defaultPodSpec(&spec)
	errs := validatePodSpec(&spec, field.NewPath("spec", "template", "spec"), podSpecExtras{})
	checkDetail(t, errs, "spec.template.spec.containers[0].resources.requests", "must be less than or equal to cpu limit of 10m")
}

func TestPodTemplateSpecValidation(t *testing.T) {
	tmpl := minimalTemplate()
	tmpl.Labels["bad key!"] = "x"
	tmpl.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
	defaultPodTemplateSpec(&tmpl)
	checkErrors(t, validatePodTemplateSpec(&tmpl, field.NewPath("template"), podSpecExtras{}),
		"Invalid template.labels", "Forbidden template.spec.ephemeralContainers")
}

func TestVolumeWithoutSource(t *testing.T) {
	_, errs := validateVolumes([]corev1.Volume{{Name: "none"}}, field.NewPath("spec", "volumes"))
	checkErrors(t, errs, "Required spec.volumes[0]")
	checkDetail(t, errs, "spec.volumes[0]", "must specify a volume type")
}
