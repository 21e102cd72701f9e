package printers

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cliprinters "k8s.io/cli-runtime/pkg/printers"
)

// sampleObjects has, for every kind with its own printer, objects of each type
// that printer accepts. Every field is left at its zero value but the name, so
// the printers must cope with objects straight out of a sparse manifest.
func sampleObjects() map[schema.GroupKind][]runtime.Object {
	m := metav1.ObjectMeta{Name: "sample", Namespace: "default"}
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	g := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	return map[schema.GroupKind][]runtime.Object{
		core("Pod"):                   {&corev1.Pod{ObjectMeta: m}},
		core("PodTemplate"):           {&corev1.PodTemplate{ObjectMeta: m}},
		core("Service"):               {&corev1.Service{ObjectMeta: m}},
		core("Endpoints"):             {&corev1.Endpoints{ObjectMeta: m}},
		core("Node"):                  {&corev1.Node{ObjectMeta: m}},
		core("Namespace"):             {&corev1.Namespace{ObjectMeta: m}},
		core("ConfigMap"):             {&corev1.ConfigMap{ObjectMeta: m}},
		core("Secret"):                {&corev1.Secret{ObjectMeta: m}},
		core("ServiceAccount"):        {&corev1.ServiceAccount{ObjectMeta: m}},
		core("Event"):                 {&corev1.Event{ObjectMeta: m}},
		core("PersistentVolume"):      {&corev1.PersistentVolume{ObjectMeta: m}},
		core("PersistentVolumeClaim"): {&corev1.PersistentVolumeClaim{ObjectMeta: m}},
		core("ReplicationController"): {&corev1.ReplicationController{ObjectMeta: m}},
		core("ResourceQuota"):         {&corev1.ResourceQuota{ObjectMeta: m}},
		core("LimitRange"):            {&corev1.LimitRange{ObjectMeta: m}},
		core("ComponentStatus"):       {&corev1.ComponentStatus{ObjectMeta: m}},

		g("events.k8s.io", "Event"): {&eventsv1.Event{ObjectMeta: m}},

		g("apps", "Deployment"):         {&appsv1.Deployment{ObjectMeta: m}},
		g("apps", "ReplicaSet"):         {&appsv1.ReplicaSet{ObjectMeta: m}},
		g("apps", "StatefulSet"):        {&appsv1.StatefulSet{ObjectMeta: m}},
		g("apps", "DaemonSet"):          {&appsv1.DaemonSet{ObjectMeta: m}},
		g("apps", "ControllerRevision"): {&appsv1.ControllerRevision{ObjectMeta: m}},

		g("batch", "Job"):     {&batchv1.Job{ObjectMeta: m}},
		g("batch", "CronJob"): {&batchv1.CronJob{ObjectMeta: m}},

		g("autoscaling", "HorizontalPodAutoscaler"): {&autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: m}, &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: m}},
		g("policy", "PodDisruptionBudget"):          {&policyv1.PodDisruptionBudget{ObjectMeta: m}},

		g("networking.k8s.io", "Ingress"):       {&networkingv1.Ingress{ObjectMeta: m}},
		g("networking.k8s.io", "IngressClass"):  {&networkingv1.IngressClass{ObjectMeta: m}},
		g("networking.k8s.io", "NetworkPolicy"): {&networkingv1.NetworkPolicy{ObjectMeta: m}},
		g("discovery.k8s.io", "EndpointSlice"):  {&discoveryv1.EndpointSlice{ObjectMeta: m}},

		g("storage.k8s.io", "StorageClass"):     {&storagev1.StorageClass{ObjectMeta: m}},
		g("coordination.k8s.io", "Lease"):       {&coordinationv1.Lease{ObjectMeta: m}},
		g("scheduling.k8s.io", "PriorityClass"): {&schedulingv1.PriorityClass{ObjectMeta: m}},

		g("rbac.authorization.k8s.io", "Role"):               {&rbacv1.Role{ObjectMeta: m}},
		g("rbac.authorization.k8s.io", "ClusterRole"):        {&rbacv1.ClusterRole{ObjectMeta: m}},
		g("rbac.authorization.k8s.io", "RoleBinding"):        {&rbacv1.RoleBinding{ObjectMeta: m}},
		g("rbac.authorization.k8s.io", "ClusterRoleBinding"): {&rbacv1.ClusterRoleBinding{ObjectMeta: m}},

		g("admissionregistration.k8s.io", "MutatingWebhookConfiguration"):   {&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: m}},
		g("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): {&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: m}},
	}
}

// TestEveryPrinterIsConsistent checks each built-in printer against the rules
// kubectl relies on: one cell per column, JSON-safe cells, a "name" column,
// and known column types.
func TestEveryPrinterIsConsistent(t *testing.T) {
	samples := sampleObjects()
	for gk := range builtinPrinters() {
		objs, ok := samples[gk]
		if !ok {
			t.Errorf("%v has a printer but no sample object in this test", gk)
			continue
		}
		p := For(gk)
		nameColumns := 0
		for _, c := range p.Columns {
			switch c.Type {
			case "string", "integer", "number", "boolean", "date":
			default:
				t.Errorf("%v column %q has type %q", gk, c.Name, c.Type)
			}
			if c.Priority != 0 && c.Priority != 1 {
				t.Errorf("%v column %q has priority %d", gk, c.Name, c.Priority)
			}
			if c.Format == "name" {
				nameColumns++
			}
		}
		if nameColumns != 1 {
			t.Errorf("%v has %d columns with format name, want 1", gk, nameColumns)
		}
		for _, obj := range objs {
			table, err := ToTable(p, []runtime.Object{obj}, "", testNow)
			if err != nil {
				t.Errorf("%v: ToTable(%T): %v", gk, obj, err)
				continue
			}
			// DeepCopy panics on cells that are not JSON values.
			_ = table.DeepCopy()
		}
	}
	if p := For(schema.GroupKind{Group: "example.com", Kind: "Widget"}); len(p.Columns) != 2 || p.Columns[0].Name != "Name" || p.Columns[1].Name != "Age" {
		t.Errorf("For(unknown kind) columns = %v, want the default Name, Age", p.Columns)
	}
}

// TestPrinterRejectsOtherTypes makes sure a mis-wired printer reports an
// error instead of printing garbage.
func TestPrinterRejectsOtherTypes(t *testing.T) {
	_, err := ToTable(For(schema.GroupKind{Kind: "Pod"}), []runtime.Object{&corev1.Service{}}, "None", testNow)
	if err == nil || !strings.Contains(err.Error(), "*v1.Pod") {
		t.Fatalf("ToTable(pod printer, service) error = %v, want one naming *v1.Pod", err)
	}
}

// headings are the column headings kubectl prints, without or with -o wide.
func headings(p Printer, wide bool) string {
	var names []string
	for _, c := range p.Columns {
		if wide || c.Priority == 0 {
			names = append(names, strings.ToUpper(c.Name))
		}
	}
	return strings.Join(names, " | ")
}

func TestColumnHeadings(t *testing.T) {
	tests := []struct {
		gk         schema.GroupKind
		plain      string
		wideExtras string
	}{
		{schema.GroupKind{Kind: "Pod"}, "NAME | READY | STATUS | RESTARTS | AGE", "IP | NODE | NOMINATED NODE | READINESS GATES"},
		{schema.GroupKind{Kind: "Service"}, "NAME | TYPE | CLUSTER-IP | EXTERNAL-IP | PORT(S) | AGE", "SELECTOR"},
		{schema.GroupKind{Kind: "Endpoints"}, "NAME | ENDPOINTS | AGE", ""},
		{schema.GroupKind{Kind: "Node"}, "NAME | STATUS | ROLES | AGE | VERSION", "INTERNAL-IP | EXTERNAL-IP | OS-IMAGE | KERNEL-VERSION | CONTAINER-RUNTIME"},
		{schema.GroupKind{Kind: "Namespace"}, "NAME | STATUS | AGE", ""},
		{schema.GroupKind{Kind: "ConfigMap"}, "NAME | DATA | AGE", ""},
		{schema.GroupKind{Kind: "Secret"}, "NAME | TYPE | DATA | AGE", ""},
		{schema.GroupKind{Kind: "ServiceAccount"}, "NAME | AGE", ""},
		{schema.GroupKind{Kind: "Event"}, "LAST SEEN | TYPE | REASON | OBJECT | MESSAGE", ""},
		{schema.GroupKind{Group: "events.k8s.io", Kind: "Event"}, "LAST SEEN | TYPE | REASON | OBJECT | MESSAGE", ""},
		{schema.GroupKind{Kind: "PersistentVolume"}, "NAME | CAPACITY | ACCESS MODES | RECLAIM POLICY | STATUS | CLAIM | STORAGECLASS | VOLUMEATTRIBUTESCLASS | REASON | AGE", "VOLUMEMODE"},
		{schema.GroupKind{Kind: "PersistentVolumeClaim"}, "NAME | STATUS | VOLUME | CAPACITY | ACCESS MODES | STORAGECLASS | VOLUMEATTRIBUTESCLASS | AGE", "VOLUMEMODE"},
		{schema.GroupKind{Kind: "ReplicationController"}, "NAME | DESIRED | CURRENT | READY | AGE", "CONTAINERS | IMAGES | SELECTOR"},
		{schema.GroupKind{Kind: "ResourceQuota"}, "NAME | REQUEST | LIMIT | AGE", ""},
		{schema.GroupKind{Kind: "LimitRange"}, "NAME | CREATED AT", ""},
		{schema.GroupKind{Kind: "PodTemplate"}, "NAME | CONTAINERS | IMAGES | POD LABELS", ""},
		{schema.GroupKind{Group: "apps", Kind: "Deployment"}, "NAME | READY | UP-TO-DATE | AVAILABLE | AGE", "CONTAINERS | IMAGES | SELECTOR"},
		{schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, "NAME | DESIRED | CURRENT | READY | AGE", "CONTAINERS | IMAGES | SELECTOR"},
		{schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, "NAME | READY | AGE", "CONTAINERS | IMAGES"},
		{schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, "NAME | DESIRED | CURRENT | READY | UP-TO-DATE | AVAILABLE | NODE SELECTOR | AGE", "CONTAINERS | IMAGES | SELECTOR"},
		{schema.GroupKind{Group: "apps", Kind: "ControllerRevision"}, "NAME | CONTROLLER | REVISION | AGE", ""},
		{schema.GroupKind{Group: "batch", Kind: "Job"}, "NAME | STATUS | COMPLETIONS | DURATION | AGE", "CONTAINERS | IMAGES | SELECTOR"},
		{schema.GroupKind{Group: "batch", Kind: "CronJob"}, "NAME | SCHEDULE | TIMEZONE | SUSPEND | ACTIVE | LAST SCHEDULE | AGE", "CONTAINERS | IMAGES | SELECTOR"},
		{schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}, "NAME | REFERENCE | TARGETS | MINPODS | MAXPODS | REPLICAS | AGE", ""},
		{schema.GroupKind{Group: "policy", Kind: "PodDisruptionBudget"}, "NAME | MIN AVAILABLE | MAX UNAVAILABLE | ALLOWED DISRUPTIONS | AGE", ""},
		{schema.GroupKind{Group: "networking.k8s.io", Kind: "Ingress"}, "NAME | CLASS | HOSTS | ADDRESS | PORTS | AGE", ""},
		{schema.GroupKind{Group: "networking.k8s.io", Kind: "IngressClass"}, "NAME | CONTROLLER | PARAMETERS | AGE", ""},
		{schema.GroupKind{Group: "networking.k8s.io", Kind: "NetworkPolicy"}, "NAME | POD-SELECTOR | AGE", ""},
		{schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"}, "NAME | ADDRESSTYPE | PORTS | ENDPOINTS | AGE", ""},
		{schema.GroupKind{Group: "storage.k8s.io", Kind: "StorageClass"}, "NAME | PROVISIONER | RECLAIMPOLICY | VOLUMEBINDINGMODE | ALLOWVOLUMEEXPANSION | AGE", ""},
		{schema.GroupKind{Group: "coordination.k8s.io", Kind: "Lease"}, "NAME | HOLDER | AGE", ""},
		{schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}, "NAME | CREATED AT", ""},
		{schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, "NAME | CREATED AT", ""},
		{schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}, "NAME | ROLE | AGE", "USERS | GROUPS | SERVICEACCOUNTS"},
		{schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}, "NAME | ROLE | AGE", "USERS | GROUPS | SERVICEACCOUNTS"},
	}
	for _, tt := range tests {
		t.Run(tt.gk.String(), func(t *testing.T) {
			p := For(tt.gk)
			if got := headings(p, false); got != tt.plain {
				t.Errorf("headings = %q, want %q", got, tt.plain)
			}
			var wide []string
			for _, c := range p.Columns {
				if c.Priority == 1 {
					wide = append(wide, strings.ToUpper(c.Name))
				}
			}
			// Events keep their wide columns in the middle, so only compare
			// the set of wide columns for kinds that list them.
			if tt.wideExtras != "" && strings.Join(wide, " | ") != tt.wideExtras {
				t.Errorf("wide columns = %q, want %q", strings.Join(wide, " | "), tt.wideExtras)
			}
		})
	}
}

func TestToTableIncludeObject(t *testing.T) {
	pods := []runtime.Object{
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "default", UID: "uid-a", ResourceVersion: "7", Labels: map[string]string{"app": "x"}, CreationTimestamp: ago(time.Minute)},
			Spec:       corev1.PodSpec{Containers: containers("app")},
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		},
		&corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "default", CreationTimestamp: ago(time.Hour)},
		},
	}
	tests := []struct {
		include string
		check   func(t *testing.T, row metav1.TableRow, obj runtime.Object)
	}{
		{"None", func(t *testing.T, row metav1.TableRow, _ runtime.Object) {
			if row.Object.Object != nil || row.Object.Raw != nil {
				t.Errorf("row object = %v, want none", row.Object)
			}
		}},
		{"Metadata", checkPartial},
		{"", checkPartial},
		{"Object", func(t *testing.T, row metav1.TableRow, obj runtime.Object) {
			pod, ok := row.Object.Object.(*corev1.Pod)
			if !ok {
				t.Fatalf("row object is %T, want *v1.Pod", row.Object.Object)
			}
			if gvk := pod.GroupVersionKind(); gvk != corev1.SchemeGroupVersion.WithKind("Pod") {
				t.Errorf("row object kind = %v, want v1 Pod", gvk)
			}
			if pod.Name != obj.(*corev1.Pod).Name {
				t.Errorf("row object name = %q, want %q", pod.Name, obj.(*corev1.Pod).Name)
			}
		}},
	}
	for _, tt := range tests {
		t.Run("include="+tt.include, func(t *testing.T) {
			table, err := ToTable(For(schema.GroupKind{Kind: "Pod"}), pods, tt.include, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if table.APIVersion != "meta.k8s.io/v1" || table.Kind != "Table" {
				t.Errorf("table type = %s %s, want meta.k8s.io/v1 Table", table.APIVersion, table.Kind)
			}
			if len(table.ColumnDefinitions) != 9 || len(table.Rows) != len(pods) {
				t.Fatalf("table has %d columns and %d rows, want 9 and %d", len(table.ColumnDefinitions), len(table.Rows), len(pods))
			}
			for i, row := range table.Rows {
				tt.check(t, row, pods[i])
			}
			assertCells(t, table.Rows[0].Cells, []interface{}{"a", "0/1", "Pending", "0", "60s", "<none>", "<none>", "<none>", "<none>"})
		})
	}
	// The caller's objects are not modified when kinds are filled in.
	if gvk := pods[0].GetObjectKind().GroupVersionKind(); !gvk.Empty() {
		t.Errorf("ToTable set kind %v on the caller's object", gvk)
	}

	if _, err := ToTable(Default(), pods, "Everything", testNow); err == nil {
		t.Error("ToTable accepted includeObject=Everything")
	}
	empty, err := ToTable(Default(), nil, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(empty)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"rows":[]`) {
		t.Errorf("empty table encodes as %s, want rows: []", data)
	}
}

func checkPartial(t *testing.T, row metav1.TableRow, obj runtime.Object) {
	t.Helper()
	partial, ok := row.Object.Object.(*metav1.PartialObjectMetadata)
	if !ok {
		t.Fatalf("row object is %T, want *PartialObjectMetadata", row.Object.Object)
	}
	if partial.APIVersion != "meta.k8s.io/v1" || partial.Kind != "PartialObjectMetadata" {
		t.Errorf("partial type = %s %s", partial.APIVersion, partial.Kind)
	}
	pod := obj.(*corev1.Pod)
	if partial.Name != pod.Name || partial.Namespace != pod.Namespace || partial.UID != pod.UID ||
		partial.ResourceVersion != pod.ResourceVersion || partial.Labels["app"] != pod.Labels["app"] {
		t.Errorf("partial metadata %+v does not match pod %+v", partial.ObjectMeta, pod.ObjectMeta)
	}
}

func TestNormalizeCells(t *testing.T) {
	cells := []interface{}{"s", 3, int32(4), int64(5), true, 1.5, float32(2), nil}
	if err := normalizeCells(cells); err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"s", int64(3), int64(4), int64(5), true, 1.5, float64(2), nil})
	if err := normalizeCells([]interface{}{time.Second}); err == nil {
		t.Error("normalizeCells accepted a time.Duration cell")
	}
}

// TestKubectlRendering sends tables through JSON and kubectl's own table
// printer, as `kubectl get` does, to check what a user sees.
func TestKubectlRendering(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "default", CreationTimestamp: ago(3 * time.Minute)},
		Spec:       corev1.PodSpec{Containers: containers("app"), NodeName: "node-a"},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}},
			ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", Ready: true, State: running(), RestartCount: 2,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{FinishedAt: ago(time.Minute)}},
			}},
		},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(3 * time.Minute)},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.0.20"},
			Ports:    []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}},
			Selector: map[string]string{"app": "web"},
		},
	}
	tests := []struct {
		name string
		gk   schema.GroupKind
		obj  runtime.Object
		wide bool
		want string
	}{
		{"pod", schema.GroupKind{Kind: "Pod"}, pod, false, `
NAME    READY   STATUS    RESTARTS      AGE
web-0   1/1     Running   2 (60s ago)   3m
`},
		{"pod wide", schema.GroupKind{Kind: "Pod"}, pod, true, `
NAME    READY   STATUS    RESTARTS      AGE   IP          NODE     NOMINATED NODE   READINESS GATES
web-0   1/1     Running   2 (60s ago)   3m    10.42.0.5   node-a   <none>           <none>
`},
		{"service", schema.GroupKind{Kind: "Service"}, svc, false, `
NAME   TYPE           CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE
web    LoadBalancer   10.96.0.20   <pending>     80:30080/TCP   3m
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := ToTable(For(tt.gk), []runtime.Object{tt.obj}, "Metadata", testNow)
			if err != nil {
				t.Fatal(err)
			}
			data, err := json.Marshal(table)
			if err != nil {
				t.Fatal(err)
			}
			// kubectl decodes the table from the wire.
			var decoded metav1.Table
			if err := json.Unmarshal(data, &decoded); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := cliprinters.NewTablePrinter(cliprinters.PrintOptions{Wide: tt.wide}).PrintObj(&decoded, &out); err != nil {
				t.Fatal(err)
			}
			if got := "\n" + out.String(); got != tt.want {
				t.Errorf("kubectl output:%s\nwant:%s", got, tt.want)
			}
		})
	}
}
