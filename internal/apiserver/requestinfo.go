package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a resource request's path and method say.
type requestInfo struct {
	group, version string
	namespace      string
	resource       string
	name           string
	subresource    string
	// rest holds path segments after the subresource (pods/proxy/<path>).
	rest string
	verb string
}

// parseResourcePath parses /api/v1/... and /apis/<group>/<version>/... paths. ok is false for
// anything that is not a resource request (discovery and other paths).
func parseResourcePath(method, path string) (ri requestInfo, ok bool) {
	parts := splitPath(path)
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		ri.version = parts[1]
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		ri.group, ri.version = parts[1], parts[2]
		parts = parts[3:]
	default:
		return ri, false
	}
	// /namespaces/{ns}/{resource}/... unless it is the namespace object itself or one of its
	// subresources (/namespaces/{name}/status, /namespaces/{name}/finalize).
	nsSub := len(parts) == 3 && (parts[2] == "status" || parts[2] == "finalize")
	if parts[0] == "namespaces" && len(parts) >= 3 && !nsSub {
		ri.namespace = parts[1]
		parts = parts[2:]
	}
	if parts[0] == "namespaces" && len(parts) >= 2 && ri.namespace == "" {
		// /api/v1/namespaces/{name}[/status|finalize]
		ri.resource, ri.name = "namespaces", parts[1]
		if len(parts) >= 3 {
			ri.subresource = parts[2]
		}
	} else {
		ri.resource = parts[0]
		if len(parts) >= 2 {
			ri.name = parts[1]
		}
		if len(parts) >= 3 {
			ri.subresource = parts[2]
		}
		if len(parts) >= 4 {
			ri.rest = strings.Join(parts[3:], "/")
		}
	}
	ri.verb = verbFor(method, ri.name != "")
	return ri, true
}

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

func verbFor(method string, named bool) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		if named {
			return "get"
		}
		return "list"
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if named {
			return "delete"
		}
		return "deletecollection"
	}
	return strings.ToLower(method)
}
