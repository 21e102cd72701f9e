package apiserver

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/registry"
)

var fullVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// discoveryDocs are the discovery responses, built once at start (the set of resources is fixed).
type discoveryDocs struct {
	coreVersions []byte            // /api
	groupList    []byte            // /apis
	groups       map[string][]byte // /apis/<group>
	resources    map[string][]byte // "v1" or "<group>/<version>" → APIResourceList
	aggCore      []byte            // /api aggregated
	aggGroups    []byte            // /apis aggregated
}

const aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// groupsOf lists groups in a stable order (core first, then by name), versions preferred first.
func groupsOf(rs []*registry.Resource) []groupVersions {
	byGroup := map[string][]string{}
	var order []string
	for _, r := range rs {
		vs, seen := byGroup[r.Group]
		if !seen {
			order = append(order, r.Group)
		}
		found := false
		for _, v := range vs {
			if v == r.Version {
				found = true
			}
		}
		if !found {
			byGroup[r.Group] = append(vs, r.Version)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i] == "" && order[j] != "" })
	out := make([]groupVersions, 0, len(order))
	for _, g := range order {
		vs := byGroup[g]
		// The storage (non-converted) version is preferred; it is listed first in the registry.
		sort.SliceStable(vs, func(i, j int) bool { return versionRank(vs[i]) > versionRank(vs[j]) })
		out = append(out, groupVersions{group: g, versions: vs})
	}
	return out
}

// versionRank orders "v2" above "v1" above "v1beta1", like upstream's version priority.
func versionRank(v string) int {
	rank := 0
	rest := strings.TrimPrefix(v, "v")
	n := 0
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		n = n*10 + int(rest[i]-'0')
		i++
	}
	rank = n * 1000
	switch {
	case strings.Contains(rest[i:], "alpha"):
		rank -= 500
	case strings.Contains(rest[i:], "beta"):
		rank -= 250
	}
	return rank
}

type subresourceInfo struct {
	kind, group, version string
	verbs                []string
}

var subresources = map[string]subresourceInfo{
	"status":              {verbs: []string{"get", "patch", "update"}},
	"scale":               {kind: "Scale", group: "autoscaling", version: "v1", verbs: []string{"get", "patch", "update"}},
	"log":                 {verbs: []string{"get"}},
	"exec":                {kind: "PodExecOptions", verbs: []string{"create", "get"}},
	"attach":              {kind: "PodAttachOptions", verbs: []string{"create", "get"}},
	"portforward":         {kind: "PodPortForwardOptions", verbs: []string{"create", "get"}},
	"binding":             {kind: "Binding", verbs: []string{"create"}},
	"eviction":            {kind: "Eviction", group: "policy", version: "v1", verbs: []string{"create"}},
	"proxy":               {kind: "PodProxyOptions", verbs: []string{"create", "delete", "get", "patch", "update"}},
	"ephemeralcontainers": {verbs: []string{"get", "patch", "update"}},
	"finalize":            {verbs: []string{"update"}},
	"token":               {kind: "TokenRequest", group: "authentication.k8s.io", version: "v1", verbs: []string{"create"}},
}

func buildDiscovery(groups []groupVersions, rs []*registry.Resource) *discoveryDocs {
	d := &discoveryDocs{groups: map[string][]byte{}, resources: map[string][]byte{}}
	lists := map[string]*metav1.APIResourceList{}
	for _, r := range rs {
		gv := r.Version
		if r.Group != "" {
			gv = r.Group + "/" + r.Version
		}
		l := lists[gv]
		if l == nil {
			l = &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv}
			lists[gv] = l
		}
		verbs := r.Verbs
		if len(verbs) == 0 {
			verbs = fullVerbs
		}
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.Resource, SingularName: strings.ToLower(r.Kind),
			Namespaced: r.Namespaced, Kind: r.Kind, Verbs: verbs, ShortNames: r.ShortNames, Categories: r.Categories,
			StorageVersionHash: ""})
		for _, sub := range r.Subresources {
			info := subresources[sub]
			kind := info.kind
			if kind == "" {
				kind = r.Kind
			}
			l.APIResources = append(l.APIResources, metav1.APIResource{Name: r.Resource + "/" + sub, Namespaced: r.Namespaced,
				Kind: kind, Group: info.group, Version: info.version, Verbs: info.verbs})
		}
	}
	for gv, l := range lists {
		d.resources[gv], _ = json.Marshal(l)
	}
	d.coreVersions, _ = json.Marshal(metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: ""}}})
	gl := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, g := range groups {
		if g.group == "" {
			continue
		}
		ag := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.group}
		for _, v := range g.versions {
			ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g.group + "/" + v, Version: v})
		}
		ag.PreferredVersion = ag.Versions[0]
		d.groups[g.group], _ = json.Marshal(ag)
		ag.TypeMeta = metav1.TypeMeta{}
		gl.Groups = append(gl.Groups, ag)
	}
	d.groupList, _ = json.Marshal(gl)
	d.aggCore, d.aggGroups = buildAggregated(groups, lists)
	return d
}

func buildAggregated(groups []groupVersions, lists map[string]*metav1.APIResourceList) (core, rest []byte) {
	mk := func(include func(string) bool) []byte {
		out := apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
		for _, g := range groups {
			if !include(g.group) {
				continue
			}
			gd := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.group}}
			for _, v := range g.versions {
				gv := v
				if g.group != "" {
					gv = g.group + "/" + v
				}
				vd := apidiscoveryv2.APIVersionDiscovery{Version: v, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
				byName := map[string]*apidiscoveryv2.APIResourceDiscovery{}
				var names []string
				for _, ar := range lists[gv].APIResources {
					if i := strings.IndexByte(ar.Name, '/'); i >= 0 {
						parent := byName[ar.Name[:i]]
						sub := apidiscoveryv2.APISubresourceDiscovery{Subresource: ar.Name[i+1:], Verbs: ar.Verbs,
							ResponseKind: &metav1.GroupVersionKind{Group: ar.Group, Version: ar.Version, Kind: ar.Kind}}
						parent.Subresources = append(parent.Subresources, sub)
						continue
					}
					scope := apidiscoveryv2.ScopeCluster
					if ar.Namespaced {
						scope = apidiscoveryv2.ScopeNamespace
					}
					byName[ar.Name] = &apidiscoveryv2.APIResourceDiscovery{Resource: ar.Name, SingularResource: ar.SingularName,
						ResponseKind: &metav1.GroupVersionKind{Group: g.group, Version: v, Kind: ar.Kind}, Scope: scope,
						Verbs: ar.Verbs, ShortNames: ar.ShortNames, Categories: ar.Categories}
					names = append(names, ar.Name)
				}
				for _, n := range names {
					vd.Resources = append(vd.Resources, *byName[n])
				}
				gd.Versions = append(gd.Versions, vd)
			}
			out.Items = append(out.Items, gd)
		}
		data, _ := json.Marshal(out)
		return data
	}
	return mk(func(g string) bool { return g == "" }), mk(func(g string) bool { return g != "" })
}

func wantsAggregated(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "as=APIGroupDiscoveryList")
}

func (s *Server) serveRootDiscovery(w http.ResponseWriter, r *http.Request) {
	core := strings.HasPrefix(r.URL.Path, "/api") && !strings.HasPrefix(r.URL.Path, "/apis")
	if wantsAggregated(r) {
		data := s.discovery.Load().aggGroups
		if core {
			data = s.discovery.Load().aggCore
		}
		w.Header().Set("Vary", "Accept")
		writeRaw(w, http.StatusOK, aggregatedContentType, data)
		return
	}
	if core {
		writeRaw(w, http.StatusOK, "application/json", s.discovery.Load().coreVersions)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", s.discovery.Load().groupList)
}

// serveGroupDiscovery answers /api/v1, /apis/<group> and /apis/<group>/<version>.
func (s *Server) serveGroupDiscovery(w http.ResponseWriter, r *http.Request, parts []string) bool {
	var data []byte
	switch {
	case len(parts) == 2 && parts[0] == "api":
		data = s.discovery.Load().resources[parts[1]]
	case len(parts) == 2 && parts[0] == "apis":
		data = s.discovery.Load().groups[parts[1]]
	case len(parts) == 3 && parts[0] == "apis":
		data = s.discovery.Load().resources[parts[1]+"/"+parts[2]]
	}
	if data == nil {
		return false
	}
	writeRaw(w, http.StatusOK, "application/json", data)
	return true
}

func notFoundStatus(msg string) metav1.Status {
	return metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound, Message: msg}
}
