package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/test/e2e/framework"
)

// TestAuthReviews covers `kubectl auth can-i`, `kubectl auth whoami` and token reviews. skiff
// does not enforce RBAC, so access reviews allow everything and say why.
func TestAuthReviews(t *testing.T) {
	if testing.Short() {
		t.Skip("e2e: starts a real server")
	}
	s := framework.Start(t, framework.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	framework.ExpectOutput(t, s.MustKubectl(t, "auth", "can-i", "create", "pods"), "yes")
	framework.ExpectOutput(t, s.MustKubectl(t, "auth", "can-i", "delete", "nodes", "--all-namespaces"), "yes")
	framework.ExpectOutput(t, s.MustKubectl(t, "auth", "can-i", "--list"), "*.*")
	framework.ExpectOutput(t, s.MustKubectl(t, "auth", "whoami"), "system:admin", "[system:masters system:authenticated]")
	framework.ExpectOutput(t, s.MustKubectl(t, "auth", "whoami", "--as=system:serviceaccount:default:robot"),
		"system:serviceaccount:default:robot", "[system:serviceaccounts system:serviceaccounts:default system:authenticated]")
	framework.ExpectOutput(t, s.MustKubectl(t, "api-resources", "--api-group=authorization.k8s.io"), "selfsubjectaccessreviews", "localsubjectaccessreviews")
	framework.ExpectOutput(t, s.MustKubectl(t, "explain", "selfsubjectaccessreviews.spec"), "KIND:       SelfSubjectAccessReview", "resourceAttributes")
	ssarYAML := "apiVersion: authorization.k8s.io/v1\nkind: SelfSubjectAccessReview\nspec:\n  resourceAttributes:\n    verb: get\n    resource: pods\n"
	out, err := s.KubectlWithInput(t, ssarYAML, "create", "-f", "-", "-o", "jsonpath={.status.allowed}")
	if err != nil || out != "true" {
		t.Fatalf("kubectl create -f of an access review: %q %v", out, err)
	}

	ssar, err := s.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "secrets"}}},
		metav1.CreateOptions{})
	if err != nil || !ssar.Status.Allowed || !strings.Contains(ssar.Status.Reason, "does not enforce RBAC") {
		t.Fatalf("self subject access review: %+v %v", ssar, err)
	}
	// Neither resource nor non-resource attributes: 422, as upstream.
	_, err = s.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("empty access review: %v, want 422", err)
	}
	_, err = s.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}}},
		metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("subject access review without user: %v, want 422", err)
	}
	lsar, err := s.Client.AuthorizationV1().LocalSubjectAccessReviews("default").Create(ctx, &authorizationv1.LocalSubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "list", Resource: "pods"}}},
		metav1.CreateOptions{})
	if err != nil || !lsar.Status.Allowed || lsar.Namespace != "default" {
		t.Fatalf("local subject access review: %+v %v", lsar, err)
	}

	// Token reviews: a service-account token names its account; anything else is refused.
	token := strings.TrimSpace(s.MustKubectl(t, "create", "token", "default"))
	tr, err := s.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil || !tr.Status.Authenticated || tr.Status.User.Username != "system:serviceaccount:default:default" ||
		strings.Join(tr.Status.User.Groups, ",") != "system:serviceaccounts,system:serviceaccounts:default,system:authenticated" {
		t.Fatalf("token review of a service-account token: %+v %v", tr, err)
	}
	tr, err = s.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{"vault"}}}, metav1.CreateOptions{})
	if err != nil || tr.Status.Authenticated {
		t.Fatalf("token review for another audience: %+v %v", tr.Status, err)
	}
	tr, err = s.Client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}}, metav1.CreateOptions{})
	if err != nil || tr.Status.Authenticated || tr.Status.Error == "" {
		t.Fatalf("token review of garbage: %+v %v", tr.Status, err)
	}
	// Reviews are create-only and stored nowhere.
	if _, err := s.Client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("self subject review: %v", err)
	}
	if out, err := s.Kubectl(t, "get", "selfsubjectaccessreviews"); err == nil {
		t.Fatalf("listing access reviews succeeded:\n%s", out)
	}
}
