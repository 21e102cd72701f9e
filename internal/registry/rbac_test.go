package registry

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRoles(t *testing.T) {
	s := strategyOf(t, "rbac.authorization.k8s.io", "v1", "roles")
	role := &rbacv1.Role{ObjectMeta: meta("reader"), Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}}}}
	checkErrors(t, create(s, role))
	bad := &rbacv1.Role{ObjectMeta: meta("bad"), Rules: []rbacv1.PolicyRule{{}, {NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}
	checkErrors(t, create(s, bad), "Required rules[0].verbs", "Required rules[0].apiGroups", "Required rules[0].resources",
		"Invalid rules[1].nonResourceURLs")

	cs := strategyOf(t, "rbac.authorization.k8s.io", "v1", "clusterroles")
	cr := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:health"}, Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}
	checkErrors(t, create(cs, cr))
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "agg"}, AggregationRule: &rbacv1.AggregationRule{}}
	checkErrors(t, create(cs, agg), "Required aggregationRule.clusterRoleSelectors")
}

func TestRoleBindings(t *testing.T) {
	s := strategyOf(t, "rbac.authorization.k8s.io", "v1", "rolebindings")
	rb := &rbacv1.RoleBinding{ObjectMeta: meta("read"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "ServiceAccount", Name: "default"}}}
	checkErrors(t, create(s, rb))
	if rb.RoleRef.APIGroup != rbacv1.GroupName || rb.Subjects[0].APIGroup != rbacv1.GroupName || rb.Subjects[1].APIGroup != "" {
		t.Errorf("defaults: roleRef %+v subjects %+v", rb.RoleRef, rb.Subjects)
	}
	bad := &rbacv1.RoleBinding{ObjectMeta: meta("bad"), RoleRef: rbacv1.RoleRef{APIGroup: "example.com", Kind: "Policy"},
		Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r2"}, {Kind: "ServiceAccount", APIGroup: "x"}}}
	checkErrors(t, create(s, bad), "NotSupported roleRef.apiGroup", "NotSupported roleRef.kind", "Required roleRef.name",
		"NotSupported subjects[0].kind", "Required subjects[1].name", "NotSupported subjects[1].apiGroup")

	moved := rb.DeepCopy()
	moved.RoleRef.Name = "admin"
	errs := update(s, moved, rb)
	checkErrors(t, errs, "Invalid roleRef")
	checkDetail(t, errs, "roleRef", "cannot change roleRef")

	cs := strategyOf(t, "rbac.authorization.k8s.io", "v1", "clusterrolebindings")
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "x"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "reader"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default"}}}
	checkErrors(t, create(cs, crb), "NotSupported roleRef.kind", "Required subjects[0].namespace")
}
