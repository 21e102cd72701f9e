package openapi

import (
	"fmt"
	"reflect"
	"sort"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiff-sh/skiff/internal/registry"
)

// Media types of request and response bodies.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	streamMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	patchMediaTypes = []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	logMediaTypes = []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	anyMediaTypes = []string{"*/*"}
)

// Go types that operations use besides the resources' own.
var (
	typeStatus          = reflect.TypeFor[metav1.Status]()
	typeDeleteOptions   = reflect.TypeFor[metav1.DeleteOptions]()
	typeWatchEvent      = reflect.TypeFor[metav1.WatchEvent]()
	typePatch           = reflect.TypeFor[metav1.Patch]()
	typeAPIResourceList = reflect.TypeFor[metav1.APIResourceList]()
	typeAPIGroup        = reflect.TypeFor[metav1.APIGroup]()
	typeAPIGroupList    = reflect.TypeFor[metav1.APIGroupList]()
	typeAPIVersions     = reflect.TypeFor[metav1.APIVersions]()
	typeVersionInfo     = reflect.TypeFor[version.Info]()
	typeScale           = reflect.TypeFor[autoscalingv1.Scale]()
	typeEviction        = reflect.TypeFor[policyv1.Eviction]()
	typeBinding         = reflect.TypeFor[corev1.Binding]()
	typeTokenRequest    = reflect.TypeFor[authenticationv1.TokenRequest]()
)

var (
	gvkStatus       = schema.GroupVersionKind{Version: "v1", Kind: "Status"}
	gvkScale        = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	gvkEviction     = policyv1.SchemeGroupVersion.WithKind("Eviction")
	gvkBinding      = corev1.SchemeGroupVersion.WithKind("Binding")
	gvkTokenRequest = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
)

// response is one status code of an operation: a definition, a plain string, or nothing.
type response struct {
	code        int
	description string
	model       reflect.Type // nil: see scalar
	scalar      string       // "string" for text bodies; "" with a nil model: no body
}

// operation is one HTTP method on one path, in a form both document versions render.
type operation struct {
	method       string // lower case: get, put, post, delete, patch, head, options
	id           string
	description  string
	action       string
	gvk          schema.GroupVersionKind
	tag          string
	params       []param
	body         reflect.Type // request body model, nil for none
	bodyOptional bool
	consumes     []string
	produces     []string
	responses    []response
}

// pathItem is one URL pattern and its operations.
type pathItem struct {
	path   string
	doc    string // key of the v3 document the path belongs to ("api/v1", "apis/apps", "version")
	params []param
	ops    []*operation
}

// apiSurface is every path skiff serves, plus what the definitions need to know about kinds.
type apiSurface struct {
	items []*pathItem
	// kinds maps each Go type that is the schema of a kind to its group/version/kinds.
	kinds map[reflect.Type][]schema.GroupVersionKind
	// roots are the Go types the definitions must include.
	roots []reflect.Type
}

func (a *apiSurface) addKind(t reflect.Type, gvk schema.GroupVersionKind) {
	for _, existing := range a.kinds[t] {
		if existing == gvk {
			return
		}
	}
	a.kinds[t] = append(a.kinds[t], gvk)
	a.addRoot(t)
}

func (a *apiSurface) addRoot(t reflect.Type) {
	for _, r := range a.roots {
		if r == t {
			return
		}
	}
	a.roots = append(a.roots, t)
}

func (a *apiSurface) add(item *pathItem) {
	for _, op := range item.ops {
		if op.body != nil {
			a.addRoot(op.body)
		}
		for _, r := range op.responses {
			if r.model != nil {
				a.addRoot(r.model)
			}
		}
	}
	a.items = append(a.items, item)
}

// resourceVerbs is the set of verbs a resource supports.
type resourceVerbs map[string]bool

func verbsOf(r *registry.Resource) resourceVerbs {
	verbs := r.Verbs
	if len(verbs) == 0 {
		verbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	}
	v := resourceVerbs{}
	for _, verb := range verbs {
		v[verb] = true
	}
	return v
}

// describeAPI lays out the paths and operations of every resource, their groups' discovery
// documents and /version.
func describeAPI(resources []*registry.Resource) (*apiSurface, error) {
	a := &apiSurface{kinds: map[reflect.Type][]schema.GroupVersionKind{}}
	a.addKind(typeStatus, gvkStatus)

	groups := map[string]bool{}
	groupVersions := map[schema.GroupVersion]bool{}
	for _, r := range resources {
		verbs := verbsOf(r)
		// Create-only resources (access reviews and the like) have no list type.
		if r.New == nil || (r.NewList == nil && (verbs["list"] || verbs["watch"])) {
			return nil, fmt.Errorf("resource %s has no Go type", r.GroupResource())
		}
		gv := schema.GroupVersion{Group: r.Group, Version: r.Version}
		groups[r.Group] = true
		groupVersions[gv] = true
		objType := reflect.TypeOf(r.New()).Elem()
		a.addKind(objType, r.GVK())
		var listType reflect.Type
		if r.NewList != nil {
			listType = reflect.TypeOf(r.NewList()).Elem()
			a.addKind(listType, gv.WithKind(r.ListKind))
		}
		describeResource(a, r, objType, listType)
	}

	// Every group/version accepts DeleteOptions and streams WatchEvents (upstream lists them all).
	for gv := range groupVersions {
		a.addKind(typeDeleteOptions, gv.WithKind("DeleteOptions"))
		a.addKind(typeWatchEvent, gv.WithKind("WatchEvent"))
	}
	a.addRoot(typePatch)
	describeDiscovery(a, groups, groupVersions)

	sort.SliceStable(a.items, func(i, j int) bool { return a.items[i].path < a.items[j].path })
	return a, nil
}

// describeResource adds the paths of one resource and its subresources.
func describeResource(a *apiSurface, r *registry.Resource, objType, listType reflect.Type) {
	verbs := verbsOf(r)
	prefix := groupVersionPrefix(r.Group, r.Version)
	doc := groupVersionKey(r.Group, r.Version)
	tag := tagName(r.Group, r.Version)
	opGroup := operationGroupName(r.Group) + upperFirst(r.Version)
	gvk := r.GVK()

	scope, scopeParams, nsInfix := "", []param(nil), ""
	if r.Namespaced {
		scope, scopeParams, nsInfix = "Namespaced", []param{paramNamespace}, "/namespaces/{namespace}"
	}
	kindID := scope + r.Kind // "NamespacedPod", "Node"
	collection := prefix + nsInfix + "/" + r.Resource
	item := collection + "/{name}"
	itemParams := append([]param{paramName}, scopeParams...)
	newOp := func(method, verb, id, description, action string) *operation {
		return &operation{method: method, id: verb + opGroup + id, description: description, action: action, gvk: gvk, tag: tag}
	}

	// The collection: list, create, delete collection.
	coll := &pathItem{path: collection, doc: doc, params: append(append([]param(nil), scopeParams...), paramPretty)}
	if verbs["list"] {
		op := newOp("get", "list", kindID, "list or watch objects of kind "+r.Kind, "list")
		op.params, op.consumes, op.produces = listParams, anyMediaTypes, streamMediaTypes
		op.responses = okResponses(listType)
		coll.ops = append(coll.ops, op)
	}
	if verbs["create"] {
		op := newOp("post", "create", kindID, "create a"+article(r.Kind)+" "+r.Kind, "post")
		op.params, op.body, op.consumes, op.produces = writeParams, objType, anyMediaTypes, objectMediaTypes
		op.responses = createdResponses(objType)
		coll.ops = append(coll.ops, op)
	}
	if verbs["deletecollection"] {
		op := newOp("delete", "delete", "Collection"+kindID, "delete collection of "+r.Kind, "deletecollection")
		op.params, op.body, op.bodyOptional = deleteCollectionParams, typeDeleteOptions, true
		op.consumes, op.produces = anyMediaTypes, objectMediaTypes
		op.responses = okResponses(typeStatus)
		coll.ops = append(coll.ops, op)
	}
	if len(coll.ops) > 0 {
		a.add(coll)
	}

	// One object: read, replace, patch, delete.
	one := &pathItem{path: item, doc: doc, params: append(append([]param(nil), itemParams...), paramPretty)}
	if verbs["get"] {
		op := newOp("get", "read", kindID, "read the specified "+r.Kind, "get")
		op.consumes, op.produces, op.responses = anyMediaTypes, objectMediaTypes, okResponses(objType)
		one.ops = append(one.ops, op)
	}
	if verbs["update"] {
		op := newOp("put", "replace", kindID, "replace the specified "+r.Kind, "put")
		op.params, op.body, op.consumes, op.produces = writeParams, objType, anyMediaTypes, objectMediaTypes
		op.responses = updatedResponses(objType)
		one.ops = append(one.ops, op)
	}
	if verbs["patch"] {
		one.ops = append(one.ops, patchOp(newOp("patch", "patch", kindID, "partially update the specified "+r.Kind, "patch"), objType))
	}
	if verbs["delete"] {
		op := newOp("delete", "delete", kindID, "delete a"+article(r.Kind)+" "+r.Kind, "delete")
		op.params, op.body, op.bodyOptional = deleteParams, typeDeleteOptions, true
		op.consumes, op.produces = anyMediaTypes, objectMediaTypes
		op.responses = []response{{code: 200, description: "OK", model: objType}, {code: 202, description: "Accepted", model: objType}, unauthorized}
		one.ops = append(one.ops, op)
	}
	if len(one.ops) > 0 {
		a.add(one)
	}

	// Lists across namespaces.
	if r.Namespaced && verbs["list"] {
		op := newOp("get", "list", r.Kind+"ForAllNamespaces", "list or watch objects of kind "+r.Kind, "list")
		op.params, op.consumes, op.produces = listParams, anyMediaTypes, streamMediaTypes
		op.responses = okResponses(listType)
		a.add(&pathItem{path: prefix + "/" + r.Resource, doc: doc, params: []param{paramPretty}, ops: []*operation{op}})
	}

	// The deprecated /watch/ paths, still published upstream.
	if verbs["watch"] {
		watchOp := func(id, description, action string) *operation {
			op := newOp("get", "watch", id, description, action)
			op.params, op.consumes, op.produces = listParams, anyMediaTypes, streamMediaTypes
			op.responses = okResponses(typeWatchEvent)
			return op
		}
		a.add(&pathItem{path: prefix + "/watch" + nsInfix + "/" + r.Resource, doc: doc,
			params: append(append([]param(nil), scopeParams...), paramPretty),
			ops:    []*operation{watchOp(kindID+"List", "watch individual changes to a list of "+r.Kind+". deprecated: use the 'watch' parameter with a list operation instead.", "watchlist")}})
		a.add(&pathItem{path: prefix + "/watch" + nsInfix + "/" + r.Resource + "/{name}", doc: doc,
			params: append(append([]param(nil), itemParams...), paramPretty),
			ops:    []*operation{watchOp(kindID, "watch changes to an object of kind "+r.Kind+". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.", "watch")}})
		if r.Namespaced {
			a.add(&pathItem{path: prefix + "/watch/" + r.Resource, doc: doc, params: []param{paramPretty},
				ops: []*operation{watchOp(r.Kind+"ListForAllNamespaces", "watch individual changes to a list of "+r.Kind+". deprecated: use the 'watch' parameter with a list operation instead.", "watchlist")}})
		}
	}

	for _, sub := range r.Subresources {
		describeSubresource(a, r, sub, objType, subresourceContext{
			path: item + "/" + sub, doc: doc, tag: tag, opGroup: opGroup, kindID: kindID, params: itemParams,
		})
	}
}

// subresourceContext is what describeSubresource needs to know about its parent.
type subresourceContext struct {
	path, doc, tag, opGroup, kindID string
	params                          []param
}

// describeSubresource adds the paths of one subresource. A name it does not know gets no paths.
func describeSubresource(a *apiSurface, r *registry.Resource, sub string, objType reflect.Type, c subresourceContext) {
	subID := c.kindID + upperFirst(sub) // "NamespacedPodStatus"
	newOp := func(method, verb, description, action string, gvk schema.GroupVersionKind) *operation {
		return &operation{method: method, id: verb + c.opGroup + subID, description: description, action: action, gvk: gvk, tag: c.tag}
	}
	itemParams := append(append([]param(nil), c.params...), paramPretty)
	switch sub {
	case "status", "scale", "ephemeralcontainers":
		model, gvk := objType, r.GVK()
		if sub == "scale" {
			model, gvk = typeScale, gvkScale
			a.addKind(typeScale, gvkScale)
		}
		read := newOp("get", "read", "read "+sub+" of the specified "+r.Kind, "get", gvk)
		read.consumes, read.produces, read.responses = anyMediaTypes, objectMediaTypes, okResponses(model)
		replace := newOp("put", "replace", "replace "+sub+" of the specified "+r.Kind, "put", gvk)
		replace.params, replace.body, replace.consumes, replace.produces = writeParams, model, anyMediaTypes, objectMediaTypes
		replace.responses = updatedResponses(model)
		patch := patchOp(newOp("patch", "patch", "partially update "+sub+" of the specified "+r.Kind, "patch", gvk), model)
		a.add(&pathItem{path: c.path, doc: c.doc, params: itemParams, ops: []*operation{read, replace, patch}})
	case "finalize":
		op := newOp("put", "replace", "replace finalize of the specified "+r.Kind, "put", r.GVK())
		op.params, op.body, op.consumes, op.produces = writeParams, objType, anyMediaTypes, objectMediaTypes
		op.responses = updatedResponses(objType)
		a.add(&pathItem{path: c.path, doc: c.doc, params: itemParams, ops: []*operation{op}})
	case "binding", "eviction", "token":
		model, gvk := typeBinding, gvkBinding
		switch sub {
		case "eviction":
			model, gvk = typeEviction, gvkEviction
		case "token":
			model, gvk = typeTokenRequest, gvkTokenRequest
		}
		a.addKind(model, gvk)
		op := newOp("post", "create", "create "+sub+" of a"+article(r.Kind)+" "+r.Kind, "post", gvk)
		op.params, op.body, op.consumes, op.produces = writeParams, model, anyMediaTypes, objectMediaTypes
		op.responses = createdResponses(model)
		a.add(&pathItem{path: c.path, doc: c.doc, params: itemParams, ops: []*operation{op}})
	case "log":
		op := newOp("get", "read", "read log of the specified "+r.Kind, "get", r.GVK())
		op.params, op.consumes, op.produces = logParams, anyMediaTypes, logMediaTypes
		op.responses = []response{{code: 200, description: "OK", scalar: "string"}, unauthorized}
		a.add(&pathItem{path: c.path, doc: c.doc, params: itemParams, ops: []*operation{op}})
	case "exec", "attach", "portforward":
		optionsGVK := r.GVK().GroupVersion().WithKind(r.Kind + connectOptionsKind[sub])
		item := &pathItem{path: c.path, doc: c.doc, params: c.params}
		for _, method := range []string{"get", "post"} {
			op := connectOp(newOp(method, "connect", "connect "+upperMethod(method)+" requests to "+sub+" of "+r.Kind, "connect", optionsGVK), connectParams[sub])
			op.id = "connect" + c.opGroup + upperFirst(method) + subID
			item.ops = append(item.ops, op)
		}
		a.add(item)
	case "proxy":
		optionsGVK := r.GVK().GroupVersion().WithKind(r.Kind + "ProxyOptions")
		pathQuery := queryParam("path", "string", "Path is the URL path to use for the current proxy request.")
		plain := &pathItem{path: c.path, doc: c.doc, params: c.params}
		withPath := &pathItem{path: c.path + "/{path}", doc: c.doc, params: append(append([]param(nil), c.params...), paramPath)}
		for _, method := range []string{"delete", "get", "head", "options", "patch", "post", "put"} {
			op := connectOp(newOp(method, "connect", "connect "+upperMethod(method)+" requests to proxy of "+r.Kind, "connect", optionsGVK), []param{pathQuery})
			op.id = "connect" + c.opGroup + upperFirst(method) + subID
			plain.ops = append(plain.ops, op)
			opPath := connectOp(newOp(method, "connect", op.description, "connect", optionsGVK), []param{pathQuery})
			opPath.id = op.id + "WithPath"
			withPath.ops = append(withPath.ops, opPath)
		}
		a.add(plain)
		a.add(withPath)
	}
}

// connectOptionsKind names the options kind of each streaming subresource ("Pod" + "ExecOptions").
var connectOptionsKind = map[string]string{"exec": "ExecOptions", "attach": "AttachOptions", "portforward": "PortForwardOptions"}

func connectOp(op *operation, params []param) *operation {
	op.params, op.consumes, op.produces = params, anyMediaTypes, anyMediaTypes
	op.responses = []response{{code: 200, description: "OK", scalar: "string"}, unauthorized}
	return op
}

func patchOp(op *operation, model reflect.Type) *operation {
	op.params, op.body, op.consumes, op.produces = patchParams, typePatch, patchMediaTypes, objectMediaTypes
	op.responses = updatedResponses(model)
	return op
}

// describeDiscovery adds the discovery documents' paths: /api/, /api/v1/, /apis/, /apis/<group>/,
// /apis/<group>/<version>/ and /version/.
func describeDiscovery(a *apiSurface, groups map[string]bool, groupVersions map[schema.GroupVersion]bool) {
	get := func(id, description, tag string, model reflect.Type) *operation {
		return &operation{method: "get", id: id, description: description, tag: tag,
			consumes: []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"},
			produces: objectMediaTypes, responses: okResponses(model)}
	}
	a.add(&pathItem{path: "/api/", doc: "api", ops: []*operation{get("getCoreAPIVersions", "get available API versions", "core", typeAPIVersions)}})
	a.add(&pathItem{path: "/apis/", doc: "apis", ops: []*operation{get("getAPIVersions", "get available API versions", "apis", typeAPIGroupList)}})
	for group := range groups {
		if group == "" {
			continue
		}
		a.add(&pathItem{path: "/apis/" + group + "/", doc: "apis/" + group,
			ops: []*operation{get("get"+operationGroupName(group)+"APIGroup", "get information of a group", groupTagName(group), typeAPIGroup)}})
	}
	for gv := range groupVersions {
		a.add(&pathItem{path: groupVersionPrefix(gv.Group, gv.Version) + "/", doc: groupVersionKey(gv.Group, gv.Version),
			ops: []*operation{get("get"+operationGroupName(gv.Group)+upperFirst(gv.Version)+"APIResources", "get available resources", tagName(gv.Group, gv.Version), typeAPIResourceList)}})
	}
	version := get("getCodeVersion", "get the version information for this server", "version", typeVersionInfo)
	version.consumes, version.produces = []string{"application/json"}, []string{"application/json"}
	a.add(&pathItem{path: "/version/", doc: "version", ops: []*operation{version}})
}

var unauthorized = response{code: 401, description: "Unauthorized"}

func okResponses(model reflect.Type) []response {
	return []response{{code: 200, description: "OK", model: model}, unauthorized}
}

func createdResponses(model reflect.Type) []response {
	return []response{{code: 200, description: "OK", model: model}, {code: 201, description: "Created", model: model},
		{code: 202, description: "Accepted", model: model}, unauthorized}
}

func updatedResponses(model reflect.Type) []response {
	return []response{{code: 200, description: "OK", model: model}, {code: 201, description: "Created", model: model}, unauthorized}
}

// article is the indefinite article before a kind name, as upstream descriptions use it.
func article(kind string) string {
	switch kind[0] {
	case 'A', 'E', 'I', 'O', 'U':
		return "n"
	}
	return ""
}

func upperMethod(method string) string {
	b := []byte(method)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
