package openapi

import (
	"reflect"
	"strings"
)

// modelNamer is implemented by the types of k8s.io/api and k8s.io/apimachinery: their generated
// OpenAPIModelName methods give the definition name upstream publishes.
type modelNamer interface {
	OpenAPIModelName() string
}

// modelName returns the OpenAPI definition name of the named Go type t, e.g.
// "io.k8s.api.core.v1.Pod" for k8s.io/api/core/v1.Pod.
func modelName(t reflect.Type) string {
	if n, ok := reflect.New(t).Interface().(modelNamer); ok {
		return n.OpenAPIModelName()
	}
	return nameFromPackage(t.PkgPath(), t.Name())
}

// nameFromPackage derives a definition name the way upstream does for types without a generated
// name: the host part of the import path reversed, then the path, then the type name
// ("k8s.io/api/core/v1", "Pod" → "io.k8s.api.core.v1.Pod").
func nameFromPackage(pkgPath, typeName string) string {
	host, rest, _ := strings.Cut(pkgPath, "/")
	hostParts := strings.Split(host, ".")
	parts := make([]string, 0, len(hostParts)+strings.Count(rest, "/")+2)
	for i := len(hostParts) - 1; i >= 0; i-- {
		parts = append(parts, hostParts[i])
	}
	if rest != "" {
		parts = append(parts, strings.Split(rest, "/")...)
	}
	parts = append(parts, typeName)
	return strings.Join(parts, ".")
}

// groupVersionKey is the key of a group/version in the v3 index ("api/v1", "apis/apps/v1").
func groupVersionKey(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}

// groupVersionPrefix is the URL path prefix of a group/version ("/api/v1", "/apis/apps/v1").
func groupVersionPrefix(group, version string) string {
	return "/" + groupVersionKey(group, version)
}

// operationGroupName spells a group the way upstream operation IDs do: "" → "Core",
// "rbac.authorization.k8s.io" → "RbacAuthorization", "networking.k8s.io" → "Networking".
func operationGroupName(group string) string {
	if group == "" {
		return "Core"
	}
	var b strings.Builder
	for _, part := range strings.Split(strings.TrimSuffix(group, ".k8s.io"), ".") {
		b.WriteString(upperFirst(part))
	}
	return b.String()
}

// tagName spells a group/version the way upstream tags do: "core_v1", "apps_v1",
// "rbacAuthorization_v1".
func tagName(group, version string) string {
	return lowerFirst(operationGroupName(group)) + "_" + version
}

// groupTagName is the tag of a group's discovery operation: "core", "apps", "rbacAuthorization".
func groupTagName(group string) string {
	return lowerFirst(operationGroupName(group))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
