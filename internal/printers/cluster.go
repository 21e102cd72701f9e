package printers

import (
	"fmt"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func podDisruptionBudgetPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Min Available", "string", "The minimum number of pods that must be available."),
			column("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
			column("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
			ageColumn(),
		},
		Row: rowOf(func(pdb *policyv1.PodDisruptionBudget, now time.Time) ([]interface{}, error) {
			minAvailable, maxUnavailable := "N/A", "N/A"
			if v := pdb.Spec.MinAvailable; v != nil {
				minAvailable = v.String()
			}
			if v := pdb.Spec.MaxUnavailable; v != nil {
				maxUnavailable = v.String()
			}
			return []interface{}{
				pdb.Name, minAvailable, maxUnavailable, int64(pdb.Status.DisruptionsAllowed), AgeSince(pdb.CreationTimestamp.Time, now),
			}, nil
		}),
	}
}

// Annotations that mark the default StorageClass (the beta one is still honoured).
const (
	defaultStorageClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultStorageClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func storageClassPrinter() Printer {
	doc := storagev1.StorageClass{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Provisioner", "string", doc["provisioner"]),
			column("ReclaimPolicy", "string", doc["reclaimPolicy"]),
			column("VolumeBindingMode", "string", doc["volumeBindingMode"]),
			column("AllowVolumeExpansion", "string", doc["allowVolumeExpansion"]),
			ageColumn(),
		},
		Row: rowOf(func(sc *storagev1.StorageClass, now time.Time) ([]interface{}, error) {
			name := sc.Name
			if sc.Annotations[defaultStorageClassAnnotation] == "true" || sc.Annotations[betaDefaultStorageClassAnnotation] == "true" {
				name += " (default)"
			}
			reclaim := string(corev1.PersistentVolumeReclaimDelete)
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			binding := string(storagev1.VolumeBindingImmediate)
			if sc.VolumeBindingMode != nil {
				binding = string(*sc.VolumeBindingMode)
			}
			expansion := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []interface{}{name, sc.Provisioner, reclaim, binding, expansion, AgeSince(sc.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func leasePrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
			ageColumn(),
		},
		Row: rowOf(func(l *coordinationv1.Lease, now time.Time) ([]interface{}, error) {
			return []interface{}{l.Name, stringPtrOr(l.Spec.HolderIdentity, ""), AgeSince(l.CreationTimestamp.Time, now)}, nil
		}),
	}
}

func priorityClassPrinter() Printer {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Value", "integer", doc["value"]),
			column("Global-Default", "boolean", doc["globalDefault"]),
			ageColumn(),
			column("PreemptionPolicy", "string", doc["preemptionPolicy"]),
		},
		Row: rowOf(func(pc *schedulingv1.PriorityClass, now time.Time) ([]interface{}, error) {
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, AgeSince(pc.CreationTimestamp.Time, now), policy}, nil
		}),
	}
}

// roleBindingPrinter serves RoleBinding and ClusterRoleBinding, which print alike.
func roleBindingPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Role", "string", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]),
			ageColumn(),
			wideColumn("Users", "string", "Users in the roleBinding"),
			wideColumn("Groups", "string", "Groups in the roleBinding"),
			wideColumn("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
		},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			var (
				meta     metav1.ObjectMeta
				roleRef  rbacv1.RoleRef
				subjects []rbacv1.Subject
			)
			switch b := obj.(type) {
			case *rbacv1.RoleBinding:
				meta, roleRef, subjects = b.ObjectMeta, b.RoleRef, b.Subjects
			case *rbacv1.ClusterRoleBinding:
				meta, roleRef, subjects = b.ObjectMeta, b.RoleRef, b.Subjects
			default:
				return nil, fmt.Errorf("expected *v1.RoleBinding or *v1.ClusterRoleBinding, got %T", obj)
			}
			var users, groups, sas []string
			for _, s := range subjects {
				switch s.Kind {
				case rbacv1.UserKind:
					users = append(users, s.Name)
				case rbacv1.GroupKind:
					groups = append(groups, s.Name)
				case rbacv1.ServiceAccountKind:
					sas = append(sas, s.Namespace+"/"+s.Name)
				}
			}
			return []interface{}{
				meta.Name, roleRef.Kind + "/" + roleRef.Name, AgeSince(meta.CreationTimestamp.Time, now),
				strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", "),
			}, nil
		},
	}
}

// webhookConfigurationPrinter serves both admission webhook configuration kinds.
func webhookConfigurationPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
			ageColumn(),
		},
		Row: func(obj runtime.Object, now time.Time) ([]interface{}, error) {
			switch c := obj.(type) {
			case *admissionregistrationv1.MutatingWebhookConfiguration:
				return []interface{}{c.Name, int64(len(c.Webhooks)), AgeSince(c.CreationTimestamp.Time, now)}, nil
			case *admissionregistrationv1.ValidatingWebhookConfiguration:
				return []interface{}{c.Name, int64(len(c.Webhooks)), AgeSince(c.CreationTimestamp.Time, now)}, nil
			}
			return nil, fmt.Errorf("expected a webhook configuration, got %T", obj)
		},
	}
}
