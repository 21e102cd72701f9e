package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newStatefulSet() *appsv1.StatefulSet {
	tmpl := minimalTemplate()
	tmpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/data"}}
	return &appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{
		Selector:    webSelector(),
		ServiceName: "db",
		Template:    tmpl,
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}},
	}}
}

func TestStatefulSetDefaults(t *testing.T) {
	ss := newStatefulSet()
	if errs := create(strategyOf(t, "apps", "v1", "statefulsets"), ss); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	spec := ss.Spec
	switch {
	case *spec.Replicas != 1, *spec.RevisionHistoryLimit != 10:
		t.Errorf("replicas/revisionHistoryLimit = %d/%d", *spec.Replicas, *spec.RevisionHistoryLimit)
	case spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement:
		t.Errorf("podManagementPolicy = %s", spec.PodManagementPolicy)
	case spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType || *spec.UpdateStrategy.RollingUpdate.Partition != 0:
		t.Errorf("updateStrategy = %+v", spec.UpdateStrategy)
	case spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		spec.PersistentVolumeClaimRetentionPolicy.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType:
		t.Errorf("retention = %+v", spec.PersistentVolumeClaimRetentionPolicy)
	case *spec.VolumeClaimTemplates[0].Spec.VolumeMode != corev1.PersistentVolumeFilesystem || spec.VolumeClaimTemplates[0].Status.Phase != corev1.ClaimPending:
		t.Errorf("claim template = %+v", spec.VolumeClaimTemplates[0])
	}
}

func TestStatefulSetValidation(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "statefulsets")
	tests := []struct {
		name   string
		mutate func(*appsv1.StatefulSet)
		want   []string
	}{
		{"valid", func(*appsv1.StatefulSet) {}, nil},
		{"no service name", func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "" }, nil},
		{"name not a DNS label", func(ss *appsv1.StatefulSet) { ss.Name = "db.primary" }, []string{"Invalid metadata.name"}},
		{"empty selector", func(ss *appsv1.StatefulSet) { ss.Spec.Selector = &metav1.LabelSelector{} }, []string{"Invalid spec.selector"}},
		{"mount of unknown claim", func(ss *appsv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Name = "other" },
			[]string{"NotFound spec.template.spec.containers[0].volumeMounts[0].name"}},
		{"claim without storage", func(ss *appsv1.StatefulSet) { ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests = nil },
			[]string{"Required spec.volumeClaimTemplates[0].spec.resources[storage]"}},
		{"bad pod management", func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = "Random" }, []string{"Invalid spec.podManagementPolicy"}},
		{"on delete with rolling update", func(ss *appsv1.StatefulSet) {
			ss.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}
		}, []string{"Invalid spec.updateStrategy.rollingUpdate"}},
		{"negative partition", func(ss *appsv1.StatefulSet) {
			ss.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: new(int32(-1))}
		}, []string{"Invalid spec.updateStrategy.rollingUpdate.partition"}},
		{"retention", func(ss *appsv1.StatefulSet) {
			ss.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Keep", WhenScaled: appsv1.DeletePersistentVolumeClaimRetentionPolicyType}
		}, []string{"NotSupported spec.persistentVolumeClaimRetentionPolicy.whenDeleted"}},
		{"template deadline", func(ss *appsv1.StatefulSet) { ss.Spec.Template.Spec.ActiveDeadlineSeconds = new(int64(1)) },
			[]string{"Forbidden spec.template.spec.activeDeadlineSeconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ss := newStatefulSet()
			tc.mutate(ss)
			checkErrors(t, create(s, ss), tc.want...)
		})
	}
}

func TestStatefulSetUpdate(t *testing.T) {
	s := strategyOf(t, "apps", "v1", "statefulsets")
	old := newStatefulSet()
	if errs := create(s, old); len(errs) != 0 {
		t.Fatalf("create: %v", errs)
	}
	allowed := old.DeepCopy()
	allowed.Spec.Replicas = new(int32(3))
	allowed.Spec.Template.Spec.Containers[0].Image = "postgres:17"
	allowed.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	allowed.Spec.MinReadySeconds = 5
	checkErrors(t, update(s, allowed, old))

	for name, mutate := range map[string]func(*appsv1.StatefulSet){
		"service name": func(ss *appsv1.StatefulSet) { ss.Spec.ServiceName = "other" },
		"claim storage": func(ss *appsv1.StatefulSet) {
			ss.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
		},
		"pod policy": func(ss *appsv1.StatefulSet) { ss.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
	} {
		t.Run(name, func(t *testing.T) {
			ss := old.DeepCopy()
			mutate(ss)
			checkErrors(t, update(s, ss, old), "Forbidden spec")
		})
	}
}
