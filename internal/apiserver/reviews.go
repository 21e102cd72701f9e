package apiserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/registry"
)

// Reviews are the create-only resources the API server answers itself and stores nothing of:
// access reviews (`kubectl auth can-i`), rules reviews (`kubectl auth can-i --list`), who-am-I
// reviews (`kubectl auth whoami`) and token reviews.
//
// skiff does not enforce RBAC yet: every authenticated user may do everything, and the access
// reviews say so (allowed, with that reason) rather than guess what a policy would decide.

// notEnforcedReason is the reason every access review gives.
const notEnforcedReason = "skiff does not enforce RBAC: every authenticated user may do everything"

// review is one review resource: where it is served and how it is answered.
type review struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	// new makes the empty review a request body is decoded into.
	new func() runtime.Object
	// answer completes obj, the review as the request sent it, for the requesting user (or
	// returns the error to answer with).
	answer func(s *Server, user authenticationv1.UserInfo, namespace string, obj runtime.Object) error
}

var reviews = []review{
	{gvr: authorizationv1.SchemeGroupVersion.WithResource("selfsubjectaccessreviews"), kind: "SelfSubjectAccessReview",
		new: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }, answer: answerSelfSubjectAccessReview},
	{gvr: authorizationv1.SchemeGroupVersion.WithResource("subjectaccessreviews"), kind: "SubjectAccessReview",
		new: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }, answer: answerSubjectAccessReview},
	{gvr: authorizationv1.SchemeGroupVersion.WithResource("localsubjectaccessreviews"), kind: "LocalSubjectAccessReview", namespaced: true,
		new: func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }, answer: answerLocalSubjectAccessReview},
	{gvr: authorizationv1.SchemeGroupVersion.WithResource("selfsubjectrulesreviews"), kind: "SelfSubjectRulesReview",
		new: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }, answer: answerSelfSubjectRulesReview},
	{gvr: authenticationv1.SchemeGroupVersion.WithResource("selfsubjectreviews"), kind: "SelfSubjectReview",
		new: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }, answer: answerSelfSubjectReview},
	{gvr: authenticationv1.SchemeGroupVersion.WithResource("tokenreviews"), kind: "TokenReview",
		new: func() runtime.Object { return &authenticationv1.TokenReview{} }, answer: answerTokenReview},
}

func findReview(gvr schema.GroupVersionResource) *review {
	for i := range reviews {
		if reviews[i].gvr == gvr {
			return &reviews[i]
		}
	}
	return nil
}

// ReviewResources describes the reviews the server answers, for discovery and OpenAPI: each is
// create-only and has no list kind.
func ReviewResources() []*registry.Resource {
	out := make([]*registry.Resource, len(reviews))
	for i, rv := range reviews {
		out[i] = &registry.Resource{Group: rv.gvr.Group, Version: rv.gvr.Version, Resource: rv.gvr.Resource, Kind: rv.kind,
			Namespaced: rv.namespaced, Verbs: []string{"create"}, New: rv.new}
	}
	return out
}

// serveReview answers a POST to a review's collection with the completed review (201).
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, rv *review, ri requestInfo) {
	gr := rv.gvr.GroupResource()
	if ri.name != "" || ri.subresource != "" || rv.namespaced != (ri.namespace != "") {
		writeError(w, apierrors.NewNotFound(gr, ri.name))
		return
	}
	obj := rv.new()
	if !s.codecs.readOptionsBody(w, r, http.MethodPost, gr, obj) {
		return
	}
	var user authenticationv1.UserInfo
	if s.cfg.Authenticate != nil {
		user, _ = s.cfg.Authenticate(r)
	}
	if u, ok := impersonated(r); ok {
		user = u
	}
	if err := rv.answer(s, user, ri.namespace, obj); err != nil {
		writeError(w, err)
		return
	}
	obj.GetObjectKind().SetGroupVersionKind(rv.gvr.GroupVersion().WithKind(rv.kind))
	writeJSON(w, http.StatusCreated, obj)
}

func reviewInvalid(kind string, errs field.ErrorList) error {
	return apierrors.NewInvalid(schema.GroupKind{Group: authorizationv1.GroupName, Kind: kind}, "", errs)
}

// validateAccessSpec is upstream's rule for the attributes of an access review.
func validateAccessSpec(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes, path *field.Path) field.ErrorList {
	if (ra == nil) == (nra == nil) {
		return field.ErrorList{field.Invalid(path.Child("resourceAttributes"), ra, "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	}
	return nil
}

func allow(st *authorizationv1.SubjectAccessReviewStatus) {
	*st = authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: notEnforcedReason}
}

func answerSelfSubjectAccessReview(_ *Server, _ authenticationv1.UserInfo, _ string, obj runtime.Object) error {
	rv := obj.(*authorizationv1.SelfSubjectAccessReview)
	if errs := validateAccessSpec(rv.Spec.ResourceAttributes, rv.Spec.NonResourceAttributes, field.NewPath("spec")); len(errs) > 0 {
		return reviewInvalid("SelfSubjectAccessReview", errs)
	}
	allow(&rv.Status)
	return nil
}

// validateSubjectSpec is upstream's rule for a review about someone else.
func validateSubjectSpec(spec *authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	path := field.NewPath("spec")
	errs := validateAccessSpec(spec.ResourceAttributes, spec.NonResourceAttributes, path)
	if spec.User == "" && len(spec.Groups) == 0 {
		errs = append(errs, field.Invalid(path.Child("user"), spec.User, "at least one of user or group must be specified"))
	}
	return errs
}

func answerSubjectAccessReview(_ *Server, _ authenticationv1.UserInfo, _ string, obj runtime.Object) error {
	rv := obj.(*authorizationv1.SubjectAccessReview)
	if errs := validateSubjectSpec(&rv.Spec); len(errs) > 0 {
		return reviewInvalid("SubjectAccessReview", errs)
	}
	allow(&rv.Status)
	return nil
}

func answerLocalSubjectAccessReview(_ *Server, _ authenticationv1.UserInfo, namespace string, obj runtime.Object) error {
	rv := obj.(*authorizationv1.LocalSubjectAccessReview)
	spec := field.NewPath("spec")
	errs := validateSubjectSpec(&rv.Spec)
	if rv.Spec.NonResourceAttributes != nil {
		errs = append(errs, field.Invalid(spec.Child("nonResourceAttributes"), rv.Spec.NonResourceAttributes, "disallowed on this kind of request"))
	}
	if ra := rv.Spec.ResourceAttributes; ra != nil && ra.Namespace != namespace {
		errs = append(errs, field.Invalid(spec.Child("resourceAttributes", "namespace"), ra.Namespace, "must match metadata.namespace"))
	}
	if rv.Namespace != "" && rv.Namespace != namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if len(errs) > 0 {
		return reviewInvalid("LocalSubjectAccessReview", errs)
	}
	rv.Namespace = namespace
	allow(&rv.Status)
	return nil
}

func answerSelfSubjectRulesReview(_ *Server, _ authenticationv1.UserInfo, _ string, obj runtime.Object) error {
	rv := obj.(*authorizationv1.SelfSubjectRulesReview)
	if rv.Spec.Namespace == "" {
		return reviewInvalid("SelfSubjectRulesReview", field.ErrorList{field.Required(field.NewPath("spec", "namespace"), "")})
	}
	all := []string{"*"}
	rv.Status = authorizationv1.SubjectRulesReviewStatus{
		ResourceRules:    []authorizationv1.ResourceRule{{Verbs: all, APIGroups: all, Resources: all}},
		NonResourceRules: []authorizationv1.NonResourceRule{{Verbs: all, NonResourceURLs: all}},
	}
	return nil
}

func answerSelfSubjectReview(_ *Server, user authenticationv1.UserInfo, _ string, obj runtime.Object) error {
	rv := obj.(*authenticationv1.SelfSubjectReview)
	rv.Status = authenticationv1.SelfSubjectReviewStatus{UserInfo: user}
	rv.CreationTimestamp = timeNow()
	return nil
}

func answerTokenReview(s *Server, _ authenticationv1.UserInfo, _ string, obj runtime.Object) error {
	rv := obj.(*authenticationv1.TokenReview)
	if rv.Spec.Token == "" {
		return apierrors.NewInvalid(schema.GroupKind{Group: authenticationv1.GroupName, Kind: "TokenReview"}, "",
			field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
	}
	rv.Status = authenticationv1.TokenReviewStatus{}
	if s.cfg.AuthenticateToken == nil {
		rv.Status.Error = "token authentication is not configured"
		return nil
	}
	user, tokenAudiences, ok := s.cfg.AuthenticateToken(rv.Spec.Token)
	if !ok {
		rv.Status.Error = "invalid bearer token"
		return nil
	}
	// The token must be meant for one of the audiences asked about (the API server's own
	// when none is named); the status lists those it is meant for.
	wanted := rv.Spec.Audiences
	if len(wanted) == 0 {
		wanted = []string{apiAudience}
	}
	var matched []string
	for _, a := range wanted {
		if slices.Contains(tokenAudiences, a) {
			matched = append(matched, a)
		}
	}
	if len(matched) == 0 {
		rv.Status.Error = "token audiences do not match the requested audiences"
		return nil
	}
	rv.Status.Authenticated = true
	rv.Status.User = user
	rv.Status.Audiences = matched
	return nil
}

// impersonated is the user a request impersonates (kubectl --as, --as-group), as upstream's
// Impersonate-* headers name it. Every authenticated user may impersonate while RBAC is not
// enforced; the reviews answer for the impersonated user, as upstream's do.
func impersonated(r *http.Request) (authenticationv1.UserInfo, bool) {
	name := r.Header.Get("Impersonate-User")
	if name == "" {
		return authenticationv1.UserInfo{}, false
	}
	u := authenticationv1.UserInfo{Username: name, UID: r.Header.Get("Impersonate-Uid")}
	if strings.HasPrefix(name, "system:serviceaccount:") {
		u = serviceAccountUser(name)
		u.Groups = u.Groups[:len(u.Groups)-1] // authenticatedGroup, added below
	}
	u.Groups = append(u.Groups, r.Header.Values("Impersonate-Group")...)
	if !slices.Contains(u.Groups, authenticatedGroup) {
		u.Groups = append(u.Groups, authenticatedGroup)
	}
	for k, vs := range r.Header {
		if key, ok := strings.CutPrefix(k, "Impersonate-Extra-"); ok {
			if u.Extra == nil {
				u.Extra = map[string]authenticationv1.ExtraValue{}
			}
			if unescaped, err := url.PathUnescape(strings.ToLower(key)); err == nil {
				key = unescaped
			}
			u.Extra[key] = append(u.Extra[key], vs...)
		}
	}
	return u, true
}
