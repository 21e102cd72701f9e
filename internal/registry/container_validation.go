package registry

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	supportedPortProtocols    = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	supportedPullPolicies     = []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	supportedTerminationMsgs  = []corev1.TerminationMessagePolicy{corev1.TerminationMessageFallbackToLogsOnError, corev1.TerminationMessageReadFile}
	supportedURISchemes       = []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}
	supportedContainerRestart = []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways, corev1.ContainerRestartPolicyNever, corev1.ContainerRestartPolicyOnFailure}
	supportedMountPropagation = []corev1.MountPropagationMode{corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}
	supportedResizeResources  = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory}
	supportedResizeRestarts   = []corev1.ResourceResizeRestartPolicy{corev1.NotRequired, corev1.RestartContainer}
	supportedProcMounts       = []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}
	supportedSeccompTypes     = []corev1.SeccompProfileType{corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}
	supportedAppArmorTypes    = []corev1.AppArmorProfileType{corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined}

	// Downward API paths an environment variable may reference (labels and annotations are
	// subscripted: metadata.labels['app']).
	envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	// Resources a downward API resourceFieldRef may expose.
	downwardResources = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory",
		"requests.cpu", "requests.ephemeral-storage", "requests.memory"}
)

// containerKind says which rules of a container list apply.
type containerKind int

const (
	regularContainer containerKind = iota
	initContainer
	ephemeralContainer
)

// validateContainers checks a list of containers. names collects the container names of the
// whole pod (they must be unique across regular, init and ephemeral containers); volumes are
// the names that volumeMounts may reference.
func validateContainers(containers []corev1.Container, kind containerKind, spec *corev1.PodSpec, volumes sets.Set[string], names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range containers {
		c := &containers[i]
		idxPath := fldPath.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(idxPath.Child("name"), ""))
		} else {
			errs = append(errs, validateDNS1123Label(c.Name, idxPath.Child("name"))...)
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(idxPath.Child("name"), c.Name))
			}
			names.Insert(c.Name)
		}
		if c.Image == "" {
			errs = append(errs, field.Required(idxPath.Child("image"), ""))
		} else if c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(idxPath.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		errs = append(errs, validateEnum(c.ImagePullPolicy, supportedPullPolicies, idxPath.Child("imagePullPolicy"))...)
		errs = append(errs, validateEnum(c.TerminationMessagePolicy, supportedTerminationMsgs, idxPath.Child("terminationMessagePolicy"))...)
		errs = append(errs, validateContainerPorts(c.Ports, idxPath.Child("ports"))...)
		errs = append(errs, validateEnv(c.Env, idxPath.Child("env"))...)
		errs = append(errs, validateEnvFrom(c.EnvFrom, idxPath.Child("envFrom"))...)
		errs = append(errs, validateVolumeMounts(c, volumes, idxPath)...)
		errs = append(errs, validateResourceRequirements(&c.Resources, idxPath.Child("resources"))...)
		errs = append(errs, validateResizePolicy(c.ResizePolicy, idxPath.Child("resizePolicy"))...)
		errs = append(errs, validateContainerSecurityContext(c.SecurityContext, idxPath.Child("securityContext"))...)
		errs = append(errs, validateContainerLifecycle(c, kind, spec, idxPath)...)
	}
	if kind == regularContainer {
		errs = append(errs, validateHostPortConflicts(containers, fldPath)...)
	}
	return errs
}

// validateContainerLifecycle checks probes, lifecycle hooks and the restart policy, whose rules
// depend on the kind of container: plain init containers run to completion once, so they take
// no probes or hooks, while sidecars (init containers with restartPolicy Always) may.
func validateContainerLifecycle(c *corev1.Container, kind containerKind, spec *corev1.PodSpec, idxPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	sidecar := kind == initContainer && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
	switch {
	case kind == initContainer && c.RestartPolicy != nil && !sidecar:
		errs = append(errs, field.NotSupported(idxPath.Child("restartPolicy"), *c.RestartPolicy, []corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
	case kind == regularContainer && c.RestartPolicy != nil:
		errs = append(errs, validateEnum(*c.RestartPolicy, supportedContainerRestart, idxPath.Child("restartPolicy"))...)
	case kind == ephemeralContainer && c.RestartPolicy != nil:
		errs = append(errs, field.Forbidden(idxPath.Child("restartPolicy"), "cannot be set for an Ephemeral Container"))
	}

	if kind == ephemeralContainer || (kind == initContainer && !sidecar) {
		reason := "may not be set for init containers without restartPolicy=Always"
		if kind == ephemeralContainer {
			// Ephemeral containers join a running pod: they cannot claim ports or resources.
			reason = "cannot be set for an Ephemeral Container"
			if len(c.Ports) > 0 {
				errs = append(errs, field.Forbidden(idxPath.Child("ports"), reason))
			}
			if len(c.Resources.Limits) > 0 || len(c.Resources.Requests) > 0 {
				errs = append(errs, field.Forbidden(idxPath.Child("resources"), reason))
			}
		}
		if c.Lifecycle != nil {
			errs = append(errs, field.Forbidden(idxPath.Child("lifecycle"), reason))
		}
		if c.LivenessProbe != nil {
			errs = append(errs, field.Forbidden(idxPath.Child("livenessProbe"), reason))
		}
		if c.ReadinessProbe != nil {
			errs = append(errs, field.Forbidden(idxPath.Child("readinessProbe"), reason))
		}
		if c.StartupProbe != nil {
			errs = append(errs, field.Forbidden(idxPath.Child("startupProbe"), reason))
		}
		return errs
	}

	grace := spec.TerminationGracePeriodSeconds
	if c.Lifecycle != nil {
		if c.Lifecycle.PostStart != nil {
			errs = append(errs, validateHandler(lifecycleHandlerActions(c.Lifecycle.PostStart), grace, idxPath.Child("lifecycle", "postStart"))...)
		}
		if c.Lifecycle.PreStop != nil {
			errs = append(errs, validateHandler(lifecycleHandlerActions(c.Lifecycle.PreStop), grace, idxPath.Child("lifecycle", "preStop"))...)
		}
	}
	errs = append(errs, validateProbe(c.LivenessProbe, idxPath.Child("livenessProbe"))...)
	errs = append(errs, validateProbe(c.ReadinessProbe, idxPath.Child("readinessProbe"))...)
	errs = append(errs, validateProbe(c.StartupProbe, idxPath.Child("startupProbe"))...)
	// Liveness and startup probes decide on the first success; a higher threshold means nothing.
	if c.LivenessProbe != nil && c.LivenessProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(idxPath.Child("livenessProbe", "successThreshold"), c.LivenessProbe.SuccessThreshold, "must be 1"))
	}
	if c.StartupProbe != nil && c.StartupProbe.SuccessThreshold != 1 {
		errs = append(errs, field.Invalid(idxPath.Child("startupProbe", "successThreshold"), c.StartupProbe.SuccessThreshold, "must be 1"))
	}
	return errs
}

func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, p := range ports {
		idxPath := fldPath.Index(i)
		if p.Name != "" {
			if msgs := validation.IsValidPortName(p.Name); len(msgs) > 0 {
				errs = append(errs, messagesAt(idxPath.Child("name"), p.Name, msgs)...)
			} else if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(idxPath.Child("name"), p.Name))
			} else {
				names.Insert(p.Name)
			}
		}
		if p.ContainerPort == 0 {
			errs = append(errs, field.Required(idxPath.Child("containerPort"), ""))
		} else {
			errs = append(errs, messagesAt(idxPath.Child("containerPort"), p.ContainerPort, validation.IsValidPortNum(int(p.ContainerPort)))...)
		}
		if p.HostPort != 0 {
			errs = append(errs, messagesAt(idxPath.Child("hostPort"), p.HostPort, validation.IsValidPortNum(int(p.HostPort)))...)
		}
		if p.HostIP != "" {
			errs = append(errs, validation.IsValidIP(idxPath.Child("hostIP"), p.HostIP)...)
		}
		errs = append(errs, validateEnum(p.Protocol, supportedPortProtocols, idxPath.Child("protocol"))...)
	}
	return errs
}

// validateHostPortConflicts rejects two containers of a pod asking for the same host port.
func validateHostPortConflicts(containers []corev1.Container, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for ci, c := range containers {
		for pi, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", p.Protocol, p.HostIP, p.HostPort)
			if seen.Has(key) {
				errs = append(errs, field.Duplicate(fldPath.Index(ci).Child("ports").Index(pi).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
	return errs
}

func validateEnv(vars []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ev := range vars {
		idxPath := fldPath.Index(i)
		if ev.Name == "" {
			errs = append(errs, field.Required(idxPath.Child("name"), ""))
		} else {
			errs = append(errs, messagesAt(idxPath.Child("name"), ev.Name, validation.IsRelaxedEnvVarName(ev.Name))...)
		}
		if ev.ValueFrom != nil {
			errs = append(errs, validateEnvVarSource(ev, idxPath.Child("valueFrom"))...)
		}
	}
	return errs
}

func validateEnvVarSource(ev corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	src := ev.ValueFrom
	sources := 0
	if src.FieldRef != nil {
		sources++
		errs = append(errs, validateFieldSelector(src.FieldRef, envFieldPaths, fldPath.Child("fieldRef"))...)
	}
	if src.ResourceFieldRef != nil {
		sources++
		errs = append(errs, validateResourceFieldSelector(src.ResourceFieldRef, false, fldPath.Child("resourceFieldRef"))...)
	}
	if src.ConfigMapKeyRef != nil {
		sources++
		errs = append(errs, validateKeyRef(src.ConfigMapKeyRef.Name, src.ConfigMapKeyRef.Key, fldPath.Child("configMapKeyRef"))...)
	}
	if src.SecretKeyRef != nil {
		sources++
		errs = append(errs, validateKeyRef(src.SecretKeyRef.Name, src.SecretKeyRef.Key, fldPath.Child("secretKeyRef"))...)
	}
	if src.FileKeyRef != nil {
		sources++
		if src.FileKeyRef.VolumeName == "" {
			errs = append(errs, field.Required(fldPath.Child("fileKeyRef", "volumeName"), ""))
		}
		if src.FileKeyRef.Path == "" {
			errs = append(errs, field.Required(fldPath.Child("fileKeyRef", "path"), ""))
		}
		if src.FileKeyRef.Key == "" {
			errs = append(errs, field.Required(fldPath.Child("fileKeyRef", "key"), ""))
		}
	}
	switch {
	case sources == 0:
		errs = append(errs, field.Invalid(fldPath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
	case ev.Value != "":
		errs = append(errs, field.Invalid(fldPath, "", "may not be specified when `value` is not empty"))
	case sources > 1:
		errs = append(errs, field.Invalid(fldPath, "", "may not have more than one field specified at a time"))
	}
	return errs
}

// validateKeyRef checks a reference to one key of a ConfigMap or Secret.
func validateKeyRef(name, key string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(fldPath.Child("name"), ""))
	} else {
		errs = append(errs, validateDNS1123Subdomain(name, fldPath.Child("name"))...)
	}
	if key == "" {
		errs = append(errs, field.Required(fldPath.Child("key"), ""))
	} else {
		errs = append(errs, messagesAt(fldPath.Child("key"), key, validation.IsConfigMapKey(key))...)
	}
	return errs
}

// validateFieldSelector checks a downward API field reference against the paths allowed where
// it is used; labels and annotations may always be referenced by key.
func validateFieldSelector(fs *corev1.ObjectFieldSelector, allowed []string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if fs.APIVersion == "" {
		errs = append(errs, field.Required(fldPath.Child("apiVersion"), ""))
		return errs
	}
	if fs.APIVersion != "v1" {
		errs = append(errs, field.Invalid(fldPath.Child("apiVersion"), fs.APIVersion, "only \"v1\" is supported"))
	}
	if fs.FieldPath == "" {
		errs = append(errs, field.Required(fldPath.Child("fieldPath"), ""))
		return errs
	}
	if prefix, key, ok := subscriptedFieldPath(fs.FieldPath); ok {
		switch prefix {
		case "metadata.labels":
			return append(errs, validateQualifiedName(key, fldPath.Child("fieldPath"))...)
		case "metadata.annotations":
			return append(errs, validateQualifiedName(strings.ToLower(key), fldPath.Child("fieldPath"))...)
		}
		return append(errs, field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, "does not support subscript"))
	}
	for _, a := range allowed {
		if fs.FieldPath == a {
			return errs
		}
	}
	return append(errs, field.NotSupported(fldPath.Child("fieldPath"), fs.FieldPath, allowed))
}

// subscriptedFieldPath splits "metadata.labels['key']" into its prefix and key.
func subscriptedFieldPath(p string) (prefix, key string, ok bool) {
	open := strings.Index(p, "['")
	if open <= 0 || !strings.HasSuffix(p, "']") || len(p) < open+4 {
		return "", "", false
	}
	return p[:open], p[open+2 : len(p)-2], true
}

// validateResourceFieldSelector checks a downward API reference to a container's resources.
// Volumes must name the container; environment variables default to their own container.
func validateResourceFieldSelector(rs *corev1.ResourceFieldSelector, inVolume bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if inVolume && rs.ContainerName == "" {
		errs = append(errs, field.Required(fldPath.Child("containerName"), ""))
	}
	if rs.Resource == "" {
		return append(errs, field.Required(fldPath.Child("resource"), ""))
	}
	supported := false
	for _, r := range downwardResources {
		if rs.Resource == r {
			supported = true
		}
	}
	if strings.HasPrefix(rs.Resource, "limits.hugepages-") || strings.HasPrefix(rs.Resource, "requests.hugepages-") {
		supported = true
	}
	if !supported {
		return append(errs, field.NotSupported(fldPath.Child("resource"), rs.Resource, downwardResources))
	}
	if rs.Divisor.IsZero() {
		return errs
	}
	if strings.HasSuffix(rs.Resource, ".cpu") {
		if d := rs.Divisor.String(); d != "1m" && d != "1" {
			errs = append(errs, field.Invalid(fldPath.Child("divisor"), rs.Divisor.String(), "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
		return errs
	}
	switch rs.Divisor.String() {
	case "1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei":
	default:
		errs = append(errs, field.Invalid(fldPath.Child("divisor"), rs.Divisor.String(), "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
	}
	return errs
}

func validateEnvFrom(sources []corev1.EnvFromSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, s := range sources {
		idxPath := fldPath.Index(i)
		if s.Prefix != "" {
			errs = append(errs, messagesAt(idxPath.Child("prefix"), s.Prefix, validation.IsRelaxedEnvVarName(s.Prefix))...)
		}
		n := 0
		if s.ConfigMapRef != nil {
			n++
			errs = append(errs, validateRefName(s.ConfigMapRef.Name, idxPath.Child("configMapRef", "name"))...)
		}
		if s.SecretRef != nil {
			n++
			errs = append(errs, validateRefName(s.SecretRef.Name, idxPath.Child("secretRef", "name"))...)
		}
		switch {
		case n == 0:
			errs = append(errs, field.Invalid(idxPath, "", "must specify one of: `configMapRef` or `secretRef`"))
		case n > 1:
			errs = append(errs, field.Invalid(idxPath, "", "may not have more than one field specified at a time"))
		}
	}
	return errs
}

// validateRefName checks the name of a referenced ConfigMap, Secret or claim.
func validateRefName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return validateDNS1123Subdomain(name, fldPath)
}

func validateVolumeMounts(c *corev1.Container, volumes sets.Set[string], idxPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	privileged := c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
	devicePaths := sets.New[string]()
	deviceNames := sets.New[string]()
	for i, d := range c.VolumeDevices {
		p := idxPath.Child("volumeDevices").Index(i)
		if d.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else if !volumes.Has(d.Name) {
			errs = append(errs, field.NotFound(p.Child("name"), d.Name))
		}
		if d.DevicePath == "" {
			errs = append(errs, field.Required(p.Child("devicePath"), ""))
		} else if devicePaths.Has(d.DevicePath) {
			errs = append(errs, field.Invalid(p.Child("devicePath"), d.DevicePath, "must be unique"))
		}
		devicePaths.Insert(d.DevicePath)
		deviceNames.Insert(d.Name)
	}

	mountPaths := sets.New[string]()
	for i, m := range c.VolumeMounts {
		p := idxPath.Child("volumeMounts").Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(p.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(p.Child("mountPath"), ""))
		}
		if mountPaths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be unique"))
		}
		mountPaths.Insert(m.MountPath)
		if m.Name != "" && deviceNames.Has(m.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), m.Name, "must not already exist in volumeDevices"))
		}
		if m.MountPath != "" && devicePaths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must not already exist as a path in volumeDevices"))
		}
		if m.SubPath != "" {
			errs = append(errs, validateLocalDescendingPath(m.SubPath, p.Child("subPath"))...)
		}
		if m.SubPathExpr != "" {
			if m.SubPath != "" {
				errs = append(errs, field.Invalid(p.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
			}
			errs = append(errs, validateLocalDescendingPath(m.SubPathExpr, p.Child("subPathExpr"))...)
		}
		if m.MountPropagation != nil {
			errs = append(errs, validateEnum(*m.MountPropagation, supportedMountPropagation, p.Child("mountPropagation"))...)
			if *m.MountPropagation == corev1.MountPropagationBidirectional && !privileged {
				errs = append(errs, field.Forbidden(p.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers"))
			}
		}
		if m.RecursiveReadOnly != nil {
			switch *m.RecursiveReadOnly {
			case corev1.RecursiveReadOnlyDisabled:
			case corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible:
				if !m.ReadOnly {
					errs = append(errs, field.Forbidden(p.Child("recursiveReadOnly"), "may only be specified when readOnly is true"))
				}
			default:
				errs = append(errs, field.NotSupported(p.Child("recursiveReadOnly"), *m.RecursiveReadOnly,
					[]corev1.RecursiveReadOnlyMode{corev1.RecursiveReadOnlyDisabled, corev1.RecursiveReadOnlyEnabled, corev1.RecursiveReadOnlyIfPossible}))
			}
		}
	}
	return errs
}

// Probes and lifecycle hooks share one handler shape; handlerActions names the set fields.
type handlerActions struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

func probeHandlerActions(h *corev1.ProbeHandler) handlerActions {
	return handlerActions{exec: h.Exec, httpGet: h.HTTPGet, tcpSocket: h.TCPSocket, grpc: h.GRPC}
}

func lifecycleHandlerActions(h *corev1.LifecycleHandler) handlerActions {
	return handlerActions{exec: h.Exec, httpGet: h.HTTPGet, tcpSocket: h.TCPSocket, sleep: h.Sleep}
}

// validateHandler checks that exactly one action is set and that it is well formed.
func validateHandler(h handlerActions, grace *int64, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	one := func(name string) bool {
		if n > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child(name), "may not specify more than 1 handler type"))
			return false
		}
		n++
		return true
	}
	if h.exec != nil && one("exec") {
		if len(h.exec.Command) == 0 {
			errs = append(errs, field.Required(fldPath.Child("exec", "command"), ""))
		}
	}
	if h.httpGet != nil && one("httpGet") {
		p := fldPath.Child("httpGet")
		if h.httpGet.Path == "" {
			errs = append(errs, field.Required(p.Child("path"), ""))
		}
		errs = append(errs, validatePortNumOrName(h.httpGet.Port, p.Child("port"))...)
		errs = append(errs, validateEnum(h.httpGet.Scheme, supportedURISchemes, p.Child("scheme"))...)
		for i, hdr := range h.httpGet.HTTPHeaders {
			errs = append(errs, messagesAt(p.Child("httpHeaders").Index(i).Child("name"), hdr.Name, validation.IsHTTPHeaderName(hdr.Name))...)
		}
	}
	if h.tcpSocket != nil && one("tcpSocket") {
		errs = append(errs, validatePortNumOrName(h.tcpSocket.Port, fldPath.Child("tcpSocket", "port"))...)
	}
	if h.grpc != nil && one("grpc") {
		errs = append(errs, messagesAt(fldPath.Child("grpc", "port"), h.grpc.Port, validation.IsValidPortNum(int(h.grpc.Port)))...)
	}
	if h.sleep != nil && one("sleep") {
		limit := int64(corev1.DefaultTerminationGracePeriodSeconds)
		if grace != nil {
			limit = *grace
		}
		if h.sleep.Seconds < 0 || h.sleep.Seconds > limit {
			errs = append(errs, field.Invalid(fldPath.Child("sleep", "seconds"), h.sleep.Seconds,
				fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", limit)))
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a handler type"))
	}
	return errs
}

func validateProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := validateHandler(probeHandlerActions(&p.ProbeHandler), nil, fldPath)
	errs = append(errs, validateNonnegative(int64(p.InitialDelaySeconds), fldPath.Child("initialDelaySeconds"))...)
	errs = append(errs, validateNonnegative(int64(p.TimeoutSeconds), fldPath.Child("timeoutSeconds"))...)
	errs = append(errs, validateNonnegative(int64(p.PeriodSeconds), fldPath.Child("periodSeconds"))...)
	errs = append(errs, validateNonnegative(int64(p.SuccessThreshold), fldPath.Child("successThreshold"))...)
	errs = append(errs, validateNonnegative(int64(p.FailureThreshold), fldPath.Child("failureThreshold"))...)
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

// isStandardContainerResource reports whether an unprefixed resource name can be requested by a container.
func isStandardContainerResource(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return true
	}
	return isHugePageResource(name)
}

func isHugePageResource(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// isNativeResource reports whether a resource belongs to Kubernetes itself (no domain, or a
// kubernetes.io domain) rather than being an extended resource like example.com/gpu.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

// isOvercommitAllowed reports whether requests of a resource may be below its limits.
func isOvercommitAllowed(name corev1.ResourceName) bool {
	return isNativeResource(name) && !isHugePageResource(name)
}

// validateContainerResourceName checks the name of a resource a container requests.
func validateContainerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	if errs := validateQualifiedName(string(name), fldPath); len(errs) > 0 {
		return errs
	}
	if !strings.Contains(string(name), "/") {
		if !isStandardContainerResource(name) {
			return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource for containers")}
		}
		return nil
	}
	if !isNativeResource(name) && len(validation.IsQualifiedName("requests."+string(name))) > 0 {
		return field.ErrorList{field.Invalid(fldPath, name, "doesn't follow extended resource name standard")}
	}
	return nil
}

// validateResourceQuantity checks that a quantity is not negative, and whole for resources
// counted in units (extended resources).
func validateResourceQuantity(name corev1.ResourceName, q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), isNegativeErrorMsg)}
	}
	if !isNativeResource(name) && q.MilliValue()%1000 != 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), "must be an integer")}
	}
	return nil
}

// validateResourceRequirements checks a container's requests and limits: known names,
// non-negative amounts, and requests no larger than limits.
func validateResourceRequirements(r *corev1.ResourceRequirements, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	limPath, reqPath := fldPath.Child("limits"), fldPath.Child("requests")
	hasCPUOrMemory, hasHugePages := false, false
	for name, q := range r.Limits {
		p := limPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(name, p)...)
		errs = append(errs, validateResourceQuantity(name, q, p)...)
		hasCPUOrMemory = hasCPUOrMemory || name == corev1.ResourceCPU || name == corev1.ResourceMemory
		hasHugePages = hasHugePages || isHugePageResource(name)
	}
	for name, q := range r.Requests {
		p := reqPath.Key(string(name))
		errs = append(errs, validateContainerResourceName(name, p)...)
		errs = append(errs, validateResourceQuantity(name, q, p)...)
		hasCPUOrMemory = hasCPUOrMemory || name == corev1.ResourceCPU || name == corev1.ResourceMemory
		hasHugePages = hasHugePages || isHugePageResource(name)
		limit, ok := r.Limits[name]
		switch {
		case ok && !isOvercommitAllowed(name) && q.Cmp(limit) != 0:
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be equal to %s limit of %s", name, limit.String())))
		case ok && q.Cmp(limit) > 0:
			errs = append(errs, field.Invalid(reqPath, q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, limit.String())))
		case !ok && !isOvercommitAllowed(name):
			errs = append(errs, field.Required(limPath, "Limit must be set for non overcommitable resources"))
		}
	}
	if hasHugePages && !hasCPUOrMemory {
		errs = append(errs, field.Forbidden(fldPath, "HugePages require cpu or memory"))
	}
	for i, c := range r.Claims {
		if c.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("claims").Index(i), ""))
		}
	}
	return errs
}

func validateResizePolicy(policies []corev1.ContainerResizePolicy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[corev1.ResourceName]()
	for i, p := range policies {
		idxPath := fldPath.Index(i)
		errs = append(errs, validateEnum(p.ResourceName, supportedResizeResources, idxPath.Child("resourceName"))...)
		if seen.Has(p.ResourceName) {
			errs = append(errs, field.Duplicate(idxPath.Child("resourceName"), p.ResourceName))
		}
		seen.Insert(p.ResourceName)
		errs = append(errs, validateEnum(p.RestartPolicy, supportedResizeRestarts, idxPath.Child("restartPolicy"))...)
	}
	return errs
}

// validateRunAs checks the user and group IDs a pod or container security context runs as.
func validateRunAs(user, group *int64, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if user != nil {
		errs = append(errs, messagesAt(fldPath.Child("runAsUser"), *user, validation.IsValidUserID(*user))...)
	}
	if group != nil {
		errs = append(errs, messagesAt(fldPath.Child("runAsGroup"), *group, validation.IsValidGroupID(*group))...)
	}
	return errs
}

func validateContainerSecurityContext(sc *corev1.SecurityContext, fldPath *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	errs := validateRunAs(sc.RunAsUser, sc.RunAsGroup, fldPath)
	if sc.ProcMount != nil {
		errs = append(errs, validateEnum(*sc.ProcMount, supportedProcMounts, fldPath.Child("procMount"))...)
	}
	errs = append(errs, validateSeccompProfile(sc.SeccompProfile, fldPath.Child("seccompProfile"))...)
	errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, fldPath.Child("appArmorProfile"))...)
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "CAP_SYS_ADMIN" || c == "SYS_ADMIN" {
					errs = append(errs, field.Invalid(fldPath, sc, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
				}
			}
		}
	}
	return errs
}

func validateSeccompProfile(p *corev1.SeccompProfile, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := validateEnum(p.Type, supportedSeccompTypes, fldPath.Child("type"))
	switch {
	case p.Type == corev1.SeccompProfileTypeLocalhost && (p.LocalhostProfile == nil || *p.LocalhostProfile == ""):
		errs = append(errs, field.Required(fldPath.Child("localhostProfile"), "must be set when seccomp type is Localhost"))
	case p.Type != corev1.SeccompProfileTypeLocalhost && p.LocalhostProfile != nil:
		errs = append(errs, field.Invalid(fldPath.Child("localhostProfile"), *p.LocalhostProfile, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

func validateAppArmorProfile(p *corev1.AppArmorProfile, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := validateEnum(p.Type, supportedAppArmorTypes, fldPath.Child("type"))
	switch {
	case p.Type == corev1.AppArmorProfileTypeLocalhost && (p.LocalhostProfile == nil || strings.TrimSpace(*p.LocalhostProfile) == ""):
		errs = append(errs, field.Required(fldPath.Child("localhostProfile"), "must be set when AppArmor type is Localhost"))
	case p.Type != corev1.AppArmorProfileTypeLocalhost && p.LocalhostProfile != nil:
		errs = append(errs, field.Invalid(fldPath.Child("localhostProfile"), *p.LocalhostProfile, "can only be set when AppArmor type is Localhost"))
	}
	return errs
}
