// Package envvar computes a container's environment as the kubelet does:
// the Service link variables, envFrom, env (value, valueFrom) and $(VAR)
// expansion, also used for command and args.
package envvar

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Sources looks up the objects env vars refer to. ConfigMap and Secret
// return an error satisfying apierrors.IsNotFound when absent.
type Sources interface {
	ConfigMap(namespace, name string) (*v1.ConfigMap, error)
	Secret(namespace, name string) (*v1.Secret, error)
	// Services lists the Services whose variables a pod in namespace sees.
	Services(namespace string) ([]*v1.Service, error)
}

// Var is one resolved variable.
type Var struct {
	Name  string
	Value string
}

// Pod carries what fieldRef and resourceFieldRef read besides the spec.
type Pod struct {
	Pod             *v1.Pod
	PodIPs          []string
	HostIPs         []string
	NodeAllocatable v1.ResourceList
}

// MasterServiceNamespace holds the "kubernetes" Service every pod sees.
const MasterServiceNamespace = "default"

// Resolve returns the environment of container c in p.
func Resolve(src Sources, p Pod, c *v1.Container) ([]Var, error) {
	pod := p.Pod
	var order []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			order = append(order, name)
		}
		values[name] = value
	}

	links := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	serviceVars, err := ServiceVars(src, pod.Namespace, links)
	if err != nil {
		return nil, err
	}
	serviceMap := map[string]string{}
	for _, v := range serviceVars {
		serviceMap[v.Name] = v.Value
	}

	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			optional := from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional
			cm, err := src.ConfigMap(pod.Namespace, from.ConfigMapRef.Name)
			if err != nil {
				if optional && isNotFound(err) {
					continue
				}
				return nil, lookupError("configmap", from.ConfigMapRef.Name, err)
			}
			for _, k := range sortedKeys(cm.Data) {
				if name := from.Prefix + k; validName(name) {
					set(name, cm.Data[k])
				}
			}
		case from.SecretRef != nil:
			optional := from.SecretRef.Optional != nil && *from.SecretRef.Optional
			s, err := src.Secret(pod.Namespace, from.SecretRef.Name)
			if err != nil {
				if optional && isNotFound(err) {
					continue
				}
				return nil, lookupError("secret", from.SecretRef.Name, err)
			}
			keys := make([]string, 0, len(s.Data))
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if name := from.Prefix + k; validName(name) {
					set(name, string(s.Data[k]))
				}
			}
		}
	}

	lookup := func(name string) (string, bool) {
		if v, ok := values[name]; ok {
			return v, true
		}
		v, ok := serviceMap[name]
		return v, ok
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, Expand(e.Value, lookup))
			continue
		}
		value, skip, err := valueFrom(src, p, c, e.ValueFrom)
		if err != nil {
			return nil, err
		}
		if !skip {
			set(e.Name, value)
		}
	}

	out := make([]Var, 0, len(order)+len(serviceVars))
	for _, name := range order {
		out = append(out, Var{Name: name, Value: values[name]})
	}
	for _, v := range serviceVars {
		if _, ok := values[v.Name]; !ok {
			out = append(out, v)
		}
	}
	return out, nil
}

func valueFrom(src Sources, p Pod, c *v1.Container, from *v1.EnvVarSource) (value string, skip bool, err error) {
	pod := p.Pod
	switch {
	case from.FieldRef != nil:
		v, err := FieldValue(p, from.FieldRef.FieldPath)
		return v, false, err
	case from.ResourceFieldRef != nil:
		target := c
		if name := from.ResourceFieldRef.ContainerName; name != "" {
			target = findContainer(pod, name)
			if target == nil {
				return "", false, fmt.Errorf("container %q not found", name)
			}
		}
		v, err := ResourceValue(from.ResourceFieldRef, target, p.NodeAllocatable)
		return v, false, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		optional := ref.Optional != nil && *ref.Optional
		cm, err := src.ConfigMap(pod.Namespace, ref.Name)
		if err != nil {
			if optional && isNotFound(err) {
				return "", true, nil
			}
			return "", false, lookupError("configmap", ref.Name, err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, isBinary := cm.BinaryData[ref.Key]; isBinary {
				return string(b), false, nil
			}
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return v, false, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		optional := ref.Optional != nil && *ref.Optional
		s, err := src.Secret(pod.Namespace, ref.Name)
		if err != nil {
			if optional && isNotFound(err) {
				return "", true, nil
			}
			return "", false, lookupError("secret", ref.Name, err)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, pod.Namespace, ref.Name)
		}
		return string(v), false, nil
	}
	return "", false, fmt.Errorf("valueFrom names no source")
}

// FieldValue resolves a downward API field path of the pod.
func FieldValue(p Pod, path string) (string, error) {
	pod := p.Pod
	if key, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(p.HostIPs), nil
	case "status.hostIPs":
		return strings.Join(p.HostIPs, ","), nil
	case "status.podIP":
		return first(p.PodIPs), nil
	case "status.podIPs":
		return strings.Join(p.PodIPs, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// ResourceValue resolves a resourceFieldRef for container c: limits fall
// back to the node's allocatable when unset, and the value is divided by
// the divisor rounding up, as upstream does.
func ResourceValue(ref *v1.ResourceFieldSelector, c *v1.Container, allocatable v1.ResourceList) (string, error) {
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	switch ref.Resource {
	case "limits.cpu", "limits.memory", "limits.ephemeral-storage":
		name := v1.ResourceName(strings.TrimPrefix(ref.Resource, "limits."))
		var ok bool
		if q, ok = c.Resources.Limits[name]; !ok {
			q = allocatable[name]
		}
	case "requests.cpu", "requests.memory", "requests.ephemeral-storage":
		name := v1.ResourceName(strings.TrimPrefix(ref.Resource, "requests."))
		q = c.Resources.Requests[name]
	default:
		if strings.HasPrefix(ref.Resource, "requests.hugepages-") || strings.HasPrefix(ref.Resource, "limits.hugepages-") {
			parts := strings.SplitN(ref.Resource, ".", 2)
			name := v1.ResourceName(parts[1])
			if parts[0] == "limits" {
				q = c.Resources.Limits[name]
			} else {
				q = c.Resources.Requests[name]
			}
			break
		}
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if strings.HasSuffix(ref.Resource, ".cpu") {
		v := int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))
		if q.IsZero() && ref.Resource == "requests.cpu" {
			v = 0
		}
		return strconv.FormatInt(v, 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

// ServiceVars returns the Docker-link-style variables of the Services a pod
// in namespace sees: its namespace's Services when links is set (the pod's
// enableServiceLinks), and always the master "kubernetes" Service.
func ServiceVars(src Sources, namespace string, links bool) ([]Var, error) {
	byName := map[string]*v1.Service{}
	if links {
		services, err := src.Services(namespace)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		for _, s := range services {
			if s.Namespace == namespace {
				byName[s.Name] = s
			}
		}
	}
	if _, ok := byName["kubernetes"]; !ok {
		masters, err := src.Services(MasterServiceNamespace)
		if err != nil {
			return nil, fmt.Errorf("list services: %w", err)
		}
		for _, s := range masters {
			if s.Name == "kubernetes" && s.Namespace == MasterServiceNamespace {
				byName[s.Name] = s
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Var
	for _, n := range names {
		s := byName[n]
		ip := s.Spec.ClusterIP
		if ip == "" || ip == v1.ClusterIPNone || len(s.Spec.Ports) == 0 {
			continue
		}
		prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
		out = append(out, Var{prefix + "_SERVICE_HOST", ip})
		out = append(out, Var{prefix + "_SERVICE_PORT", strconv.Itoa(int(s.Spec.Ports[0].Port))})
		for _, p := range s.Spec.Ports {
			if p.Name != "" {
				out = append(out, Var{prefix + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port))})
			}
		}
		first := s.Spec.Ports[0]
		out = append(out, Var{prefix + "_PORT", linkURL(first, ip)})
		for _, p := range s.Spec.Ports {
			proto := strings.ToLower(string(p.Protocol))
			if proto == "" {
				proto = "tcp"
			}
			base := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
			out = append(out,
				Var{base, linkURL(p, ip)},
				Var{base + "_PROTO", proto},
				Var{base + "_PORT", strconv.Itoa(int(p.Port))},
				Var{base + "_ADDR", ip},
			)
		}
	}
	return out, nil
}

func linkURL(p v1.ServicePort, ip string) string {
	proto := strings.ToLower(string(p.Protocol))
	if proto == "" {
		proto = "tcp"
	}
	host := ip
	if strings.Contains(ip, ":") {
		host = "[" + ip + "]"
	}
	return fmt.Sprintf("%s://%s:%d", proto, host, p.Port)
}

// Expand replaces $(NAME) with lookup's value; $$ escapes a $, and an
// unknown $(NAME) stays as written — the kubelet's expansion rules.
func Expand(in string, lookup func(string) (string, bool)) string {
	if !strings.Contains(in, "$") {
		return in
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch next := in[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 {
				b.WriteString(in[i:])
				return b.String()
			}
			name := in[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(in[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// ExpandAll expands every string of in against env.
func ExpandAll(in []string, env []Var) []string {
	if len(in) == 0 {
		return in
	}
	m := make(map[string]string, len(env))
	for _, v := range env {
		m[v.Name] = v.Value
	}
	lookup := func(n string) (string, bool) { v, ok := m[n]; return v, ok }
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = Expand(s, lookup)
	}
	return out
}

func subscript(path, field string) (string, bool) {
	if !strings.HasPrefix(path, field+"[") || !strings.HasSuffix(path, "]") {
		return "", false
	}
	key := path[len(field)+1 : len(path)-1]
	return strings.Trim(key, `'"`), true
}

// formatMap renders labels or annotations as the downward API does:
// sorted key="value" lines.
func formatMap(m map[string]string) string {
	keys := sortedKeys(m)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s=%s", k, strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

func validName(name string) bool { return len(validation.IsEnvVarName(name)) == 0 }

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// lookupError words a failed lookup as the kubelet does.
func lookupError(kind, name string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%s %q not found", kind, name)
	}
	return fmt.Errorf("get %s %q: %w", kind, name, err)
}

func isNotFound(err error) bool { return apierrors.IsNotFound(err) }
