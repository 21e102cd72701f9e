package printers

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{-5 * time.Second, "<invalid>"},
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{200 * time.Second, "3m20s"},
		{5 * time.Minute, "5m"},
		{45 * time.Minute, "45m"},
		{3*time.Hour + 10*time.Minute, "3h10m"},
		{20 * time.Hour, "20h"},
		{51 * time.Hour, "2d3h"},
		{30 * 24 * time.Hour, "30d"},
		{3 * 365 * 24 * time.Hour, "3y"},
	}
	for _, tt := range tests {
		if got := Age(tt.d); got != tt.want {
			t.Errorf("Age(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := AgeSince(time.Time{}, testNow); got != "<unknown>" {
		t.Errorf("AgeSince(zero) = %q, want <unknown>", got)
	}
	if got := AgeSince(testNow.Add(-90*time.Second), testNow); got != "90s" {
		t.Errorf("AgeSince(90s ago) = %q, want 90s", got)
	}
}

func TestServiceCells(t *testing.T) {
	tests := []struct {
		name                string
		svc                 corev1.Service
		wantType, clusterIP string
		wantExternal        string
		wantPorts           string
		wantSelector        string
	}{
		{
			name: "cluster IP",
			svc: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
				Ports:    []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}, {Port: 53, Protocol: corev1.ProtocolTCP}},
				Selector: map[string]string{"k8s-app": "kube-dns"},
			}},
			wantType: "ClusterIP", clusterIP: "10.96.0.10", wantExternal: "<none>", wantPorts: "53/UDP,53/TCP", wantSelector: "k8s-app=kube-dns",
		},
		{
			name: "headless without ports",
			svc: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"},
			}},
			wantType: "ClusterIP", clusterIP: "None", wantExternal: "<none>", wantPorts: "<none>", wantSelector: "<none>",
		},
		{
			name: "node port with external IPs",
			svc: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeNodePort, ClusterIPs: []string{"10.96.1.2"}, ExternalIPs: []string{"192.0.2.1", "192.0.2.2"},
				Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: corev1.ProtocolTCP}},
			}},
			wantType: "NodePort", clusterIP: "10.96.1.2", wantExternal: "192.0.2.1,192.0.2.2", wantPorts: "80:30080/TCP", wantSelector: "<none>",
		},
		{
			name: "load balancer pending",
			svc: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.1.3"},
				Ports: []corev1.ServicePort{{Port: 443, NodePort: 31443, Protocol: corev1.ProtocolTCP}},
			}},
			wantType: "LoadBalancer", clusterIP: "10.96.1.3", wantExternal: "<pending>", wantPorts: "443:31443/TCP", wantSelector: "<none>",
		},
		{
			name: "load balancer with ingress points and external IPs",
			svc: corev1.Service{
				Spec: corev1.ServiceSpec{
					Type: corev1.ServiceTypeLoadBalancer, ClusterIPs: []string{"10.96.1.4"}, ExternalIPs: []string{"198.51.100.9"},
					Ports: []corev1.ServicePort{{Port: 80, NodePort: 30001, Protocol: corev1.ProtocolTCP}},
				},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
					{IP: "203.0.113.20"}, {IP: "203.0.113.10"}, {Hostname: "lb.example.com"}, {IP: "203.0.113.10"},
				}}},
			},
			wantType: "LoadBalancer", clusterIP: "10.96.1.4", wantExternal: "203.0.113.10,203.0.113.20,lb.example.com,198.51.100.9",
			wantPorts: "80:30001/TCP", wantSelector: "<none>",
		},
		{
			name: "external name",
			svc: corev1.Service{Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com",
			}},
			wantType: "ExternalName", clusterIP: "<none>", wantExternal: "db.example.com", wantPorts: "<none>", wantSelector: "<none>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.svc.Name = "svc"
			tt.svc.CreationTimestamp = ago(time.Hour)
			cells, err := servicePrinter().Row(&tt.svc, testNow)
			if err != nil {
				t.Fatal(err)
			}
			assertCells(t, cells, []interface{}{"svc", tt.wantType, tt.clusterIP, tt.wantExternal, tt.wantPorts, "60m", tt.wantSelector})
		})
	}
}

func TestDeploymentCells(t *testing.T) {
	tests := []struct {
		name      string
		replicas  *int32
		status    appsv1.DeploymentStatus
		wantReady string
	}{
		{"all ready", ptr.To[int32](3), appsv1.DeploymentStatus{ReadyReplicas: 3, UpdatedReplicas: 3, AvailableReplicas: 3}, "3/3"},
		{"rolling out", ptr.To[int32](3), appsv1.DeploymentStatus{ReadyReplicas: 1, UpdatedReplicas: 2, AvailableReplicas: 1}, "1/3"},
		{"scaled to zero", ptr.To[int32](0), appsv1.DeploymentStatus{}, "0/0"},
		{"replicas defaulted", nil, appsv1.DeploymentStatus{}, "0/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(2 * time.Minute)},
				Spec: appsv1.DeploymentSpec{
					Replicas: tt.replicas,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
						{Name: "nginx", Image: "nginx:1.27"}, {Name: "sidecar", Image: "busybox"},
					}}},
				},
				Status: tt.status,
			}
			cells, err := deploymentPrinter().Row(d, testNow)
			if err != nil {
				t.Fatal(err)
			}
			assertCells(t, cells, []interface{}{
				"web", tt.wantReady, int64(tt.status.UpdatedReplicas), int64(tt.status.AvailableReplicas), "2m",
				"nginx,sidecar", "nginx:1.27,busybox", "app=web",
			})
		})
	}
}

func TestNodeCells(t *testing.T) {
	ready := func(s corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: s}}
	}
	tests := []struct {
		name          string
		node          corev1.Node
		wantStatus    string
		wantRoles     string
		wantInternal  string
		wantOSImage   string
		wantContainer string
	}{
		{
			name: "ready control plane",
			node: corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{
					"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/hostname": "n1",
				}},
				Status: corev1.NodeStatus{
					Conditions: ready(corev1.ConditionTrue),
					Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
					NodeInfo:   corev1.NodeSystemInfo{OSImage: "Debian GNU/Linux 12", ContainerRuntimeVersion: "containerd://2.0.0"},
				},
			},
			wantStatus: "Ready", wantRoles: "control-plane,master", wantInternal: "192.168.1.10",
			wantOSImage: "Debian GNU/Linux 12", wantContainer: "containerd://2.0.0",
		},
		{
			name: "cordoned",
			node: corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"kubernetes.io/role": "worker"}},
				Spec:       corev1.NodeSpec{Unschedulable: true},
				Status:     corev1.NodeStatus{Conditions: ready(corev1.ConditionTrue)},
			},
			wantStatus: "Ready,SchedulingDisabled", wantRoles: "worker", wantInternal: "<none>",
			wantOSImage: "<unknown>", wantContainer: "<unknown>",
		},
		{
			name:       "not ready",
			node:       corev1.Node{Status: corev1.NodeStatus{Conditions: ready(corev1.ConditionUnknown)}},
			wantStatus: "NotReady", wantRoles: "<none>", wantInternal: "<none>",
			wantOSImage: "<unknown>", wantContainer: "<unknown>",
		},
		{
			name:       "no conditions yet",
			node:       corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true}},
			wantStatus: "Unknown,SchedulingDisabled", wantRoles: "<none>", wantInternal: "<none>",
			wantOSImage: "<unknown>", wantContainer: "<unknown>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.node.Name = "n1"
			tt.node.CreationTimestamp = ago(50 * time.Hour)
			tt.node.Status.NodeInfo.KubeletVersion = "v1.34.0"
			tt.node.Status.NodeInfo.KernelVersion = "6.1.0"
			cells, err := nodePrinter().Row(&tt.node, testNow)
			if err != nil {
				t.Fatal(err)
			}
			assertCells(t, cells, []interface{}{
				"n1", tt.wantStatus, tt.wantRoles, "2d2h", "v1.34.0",
				tt.wantInternal, "<none>", tt.wantOSImage, "6.1.0", tt.wantContainer,
			})
		})
	}
}

func TestJobCells(t *testing.T) {
	start := ago(10 * time.Minute)
	done := ago(7 * time.Minute)
	deleted := ago(time.Second)
	cond := func(t batchv1.JobConditionType) []batchv1.JobCondition {
		return []batchv1.JobCondition{{Type: t, Status: corev1.ConditionTrue}}
	}
	tests := []struct {
		name            string
		job             batchv1.Job
		wantStatus      string
		wantCompletions string
		wantDuration    string
	}{
		{
			name:       "not started",
			job:        batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](1)}},
			wantStatus: "Running", wantCompletions: "0/1", wantDuration: "",
		},
		{
			name: "running",
			job: batchv1.Job{
				Spec:   batchv1.JobSpec{Completions: ptr.To[int32](5), Parallelism: ptr.To[int32](2)},
				Status: batchv1.JobStatus{StartTime: &start, Succeeded: 2},
			},
			wantStatus: "Running", wantCompletions: "2/5", wantDuration: "10m",
		},
		{
			name: "complete",
			job: batchv1.Job{
				Spec:   batchv1.JobSpec{Completions: ptr.To[int32](1)},
				Status: batchv1.JobStatus{StartTime: &start, CompletionTime: &done, Succeeded: 1, Conditions: cond(batchv1.JobComplete)},
			},
			wantStatus: "Complete", wantCompletions: "1/1", wantDuration: "3m",
		},
		{
			name: "work queue in parallel",
			job: batchv1.Job{
				Spec:   batchv1.JobSpec{Parallelism: ptr.To[int32](3)},
				Status: batchv1.JobStatus{StartTime: &start},
			},
			wantStatus: "Running", wantCompletions: "0/1 of 3", wantDuration: "10m",
		},
		{
			name:       "failed",
			job:        batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailed)}},
			wantStatus: "Failed", wantCompletions: "0/1", wantDuration: "",
		},
		{
			name:       "suspended",
			job:        batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended)}},
			wantStatus: "Suspended", wantCompletions: "0/1", wantDuration: "",
		},
		{
			name: "terminating beats suspended",
			job: batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted},
				Status:     batchv1.JobStatus{Conditions: cond(batchv1.JobSuspended)},
			},
			wantStatus: "Terminating", wantCompletions: "0/1", wantDuration: "",
		},
		{
			name:       "failure target",
			job:        batchv1.Job{Status: batchv1.JobStatus{Conditions: cond(batchv1.JobFailureTarget)}},
			wantStatus: "FailureTarget", wantCompletions: "0/1", wantDuration: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.job.Name = "pi"
			tt.job.CreationTimestamp = ago(11 * time.Minute)
			cells, err := jobPrinter().Row(&tt.job, testNow)
			if err != nil {
				t.Fatal(err)
			}
			assertCells(t, cells, []interface{}{"pi", tt.wantStatus, tt.wantCompletions, tt.wantDuration, "11m", "", "", "<none>"})
		})
	}
}

func TestCronJobCells(t *testing.T) {
	last := ago(30 * time.Second)
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", CreationTimestamp: ago(time.Hour)},
		Spec: batchv1.CronJobSpec{
			Schedule: "*/1 * * * *", Suspend: ptr.To(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "hello", Image: "busybox"}}},
			}}},
		},
		Status: batchv1.CronJobStatus{Active: []corev1.ObjectReference{{Name: "hello-1"}}, LastScheduleTime: &last},
	}
	cells, err := cronJobPrinter().Row(cj, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"hello", "*/1 * * * *", "<none>", "False", int64(1), "30s", "60m", "hello", "busybox", "<none>"})
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		out := make([]corev1.EndpointAddress, len(ips))
		for i, ip := range ips {
			out[i] = corev1.EndpointAddress{IP: ip}
		}
		return out
	}
	tests := []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"no subsets", nil, "<none>"},
		{"subset without addresses", []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}, ""},
		{"two addresses", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 8080}}}}, "10.0.0.1:8080,10.0.0.2:8080"},
		{"headless without ports", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1")}}, "10.0.0.1"},
		{"ipv6", []corev1.EndpointSubset{{Addresses: addrs("fd00::1"), Ports: []corev1.EndpointPort{{Port: 53}}}}, "[fd00::1]:53"},
		{
			"more than three",
			[]corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3"), Ports: []corev1.EndpointPort{{Port: 80}, {Port: 443}}}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 3 more...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatEndpoints(&corev1.Endpoints{Subsets: tt.subsets})
			if got != tt.want {
				t.Errorf("formatEndpoints() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEndpointSliceCells(t *testing.T) {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", CreationTimestamp: ago(time.Minute)},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr.To[int32](80)}, {Name: ptr.To("metrics")}, {}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4"}},
		},
	}
	cells, err := endpointSlicePrinter().Row(es, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"web-abc", "IPv4", "80,metrics,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "60s"})

	empty, err := endpointSlicePrinter().Row(&discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv4}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, empty, []interface{}{"", "IPv4", "<unset>", "<unset>", "<unknown>"})
}

func TestIngressHosts(t *testing.T) {
	rule := func(host string) networkingv1.IngressRule { return networkingv1.IngressRule{Host: host} }
	tests := []struct {
		name  string
		rules []networkingv1.IngressRule
		want  string
	}{
		{"no rules", nil, "*"},
		{"rule without host", []networkingv1.IngressRule{rule("")}, "*"},
		{"two hosts", []networkingv1.IngressRule{rule("a.example"), rule("b.example")}, "a.example,b.example"},
		{"more than three", []networkingv1.IngressRule{rule("a"), rule("b"), rule("c"), rule("d"), rule("e")}, "a,b,c + 2 more..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ingressHosts(tt.rules); got != tt.want {
				t.Errorf("ingressHosts() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStorageClassDefaultMarker(t *testing.T) {
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name: "local-path", CreationTimestamp: ago(time.Hour),
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       "skiff.sh/local-path",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
	cells, err := storageClassPrinter().Row(sc, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"local-path (default)", "skiff.sh/local-path", "Delete", "WaitForFirstConsumer", false, "60m"})
}

func TestPersistentVolumeClaimCells(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", CreationTimestamp: ago(time.Minute)},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: ptr.To("local-path"),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending},
	}
	cells, err := persistentVolumeClaimPrinter().Row(pvc, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"data", "Pending", "", "", "", "local-path", "<unset>", "60s", "<unset>"})

	pvc.Spec.VolumeName = "pvc-123"
	pvc.Status = corev1.PersistentVolumeClaimStatus{
		Phase: corev1.ClaimBound, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany, corev1.ReadWriteOnce},
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
	}
	cells, err = persistentVolumeClaimPrinter().Row(pvc, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"data", "Bound", "pvc-123", "2Gi", "RWO,RWX", "local-path", "<unset>", "60s", "<unset>"})
}

func TestEventCellsMatchAcrossAPIs(t *testing.T) {
	first := ago(10 * time.Minute)
	last := ago(time.Minute)
	core := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-0.17a", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{app}"},
		Reason:         "Pulled", Message: "Successfully pulled image\n", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-a"},
		FirstTimestamp: first, LastTimestamp: last, Count: 3,
	}
	events := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0.17a", Namespace: "default"},
		Regarding:  corev1.ObjectReference{Kind: "Pod", Name: "web-0", FieldPath: "spec.containers{app}"},
		Reason:     "Pulled", Note: "Successfully pulled image\n", Type: corev1.EventTypeNormal,
		DeprecatedSource:         corev1.EventSource{Component: "kubelet", Host: "node-a"},
		DeprecatedFirstTimestamp: first, DeprecatedLastTimestamp: last, DeprecatedCount: 3,
	}
	want := []interface{}{"60s", "Normal", "Pulled", "pod/web-0", "spec.containers{app}", "kubelet, node-a",
		"Successfully pulled image", "10m", int64(3), "web-0.17a"}
	for _, obj := range []runtime.Object{core, events} {
		cells, err := eventPrinter().Row(obj, testNow)
		if err != nil {
			t.Fatal(err)
		}
		assertCells(t, cells, want)
	}

	// A new-API singleton: eventTime instead of timestamps, no count.
	micro := metav1.NewMicroTime(testNow.Add(-5 * time.Second))
	single := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "e"}, EventTime: micro, Regarding: corev1.ObjectReference{Kind: "Node"},
		ReportingController: "skiff/scheduler", Type: corev1.EventTypeWarning, Reason: "FailedScheduling", Note: "no nodes",
	}
	cells, err := eventPrinter().Row(single, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"5s", "Warning", "FailedScheduling", "node", "", "skiff/scheduler", "no nodes", "5s", int64(1), "e"})
}

func TestHPATargets(t *testing.T) {
	v2 := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Hour)},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)}}},
				{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceMemory, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("1Gi"))}}},
				{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("100"))}}},
			},
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			CurrentReplicas: 2,
			CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](40)}}}},
		},
	}
	cells, err := hpaPrinter().Row(v2, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"web", "Deployment/web", "cpu: 40%/80%, memory: <unknown>/1Gi + 1 more...", "1", int64(10), int64(2), "60m"})

	v1 := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{Kind: "Deployment", Name: "web"},
			MaxReplicas:    5, TargetCPUUtilizationPercentage: ptr.To[int32](50),
		},
	}
	cells, err = hpaPrinter().Row(v1, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"web", "Deployment/web", "cpu: <unknown>/50%", "<unset>", int64(5), int64(0), "<unknown>"})
}

func TestPodDisruptionBudgetCells(t *testing.T) {
	minAvailable := intstr.FromString("50%")
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web", CreationTimestamp: ago(time.Minute)},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable},
		Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1},
	}
	cells, err := podDisruptionBudgetPrinter().Row(pdb, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"web", "50%", "N/A", int64(1), "60s"})
}

func TestDefaultAndCreatedAtPrinters(t *testing.T) {
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "reader", CreationTimestamp: metav1.NewTime(time.Date(2024, 5, 1, 8, 30, 0, 0, time.FixedZone("X", 3600)))}}
	cells, err := Default().Row(role, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"reader", "31d"})
	cells, err = createdAtPrinter().Row(role, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"reader", "2024-05-01T07:30:00Z"})
}

func TestControllerRevisionAndBindingCells(t *testing.T) {
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{Name: "web-7d9f", CreationTimestamp: ago(time.Minute), OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web", Controller: ptr.To(true),
		}}},
		Revision: 3,
	}
	cells, err := controllerRevisionPrinter().Row(cr, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"web-7d9f", "statefulset.apps/web", int64(3), "60s"})

	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "admins", CreationTimestamp: ago(time.Minute)},
		RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{
			{Kind: rbacv1.UserKind, Name: "alice"}, {Kind: rbacv1.UserKind, Name: "bob"},
			{Kind: rbacv1.GroupKind, Name: "system:masters"},
			{Kind: rbacv1.ServiceAccountKind, Namespace: "kube-system", Name: "ctrl"},
		},
	}
	cells, err = roleBindingPrinter().Row(crb, testNow)
	if err != nil {
		t.Fatal(err)
	}
	assertCells(t, cells, []interface{}{"admins", "ClusterRole/cluster-admin", "60s", "alice, bob", "system:masters", "kube-system/ctrl"})
}
