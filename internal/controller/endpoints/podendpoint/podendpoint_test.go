package podendpoint

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestFindPort(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Ports: []corev1.ContainerPort{
		{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		{Name: "dns-tcp", ContainerPort: 5353},
		{Name: "http", ContainerPort: 8080},
	}}}}}
	tests := []struct {
		name    string
		port    corev1.ServicePort
		want    int32
		wantErr bool
	}{
		{name: "number", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(9000)}, want: 9000},
		{name: "unset target is port", port: corev1.ServicePort{Port: 80}, want: 80},
		{name: "name", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")}, want: 8080},
		{name: "name with protocol", port: corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("dns")}, want: 53},
		{name: "name of other protocol", port: corev1.ServicePort{Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("dns")}, wantErr: true},
		{name: "unknown name", port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("nope")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FindPort(pod, &tc.port)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("FindPort = %d, %v; want %d, err %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestShouldPodBeInEndpoints(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name        string
		pod         corev1.Pod
		terminating bool
		want        bool
	}{
		{name: "no ip", pod: corev1.Pod{}, want: false},
		{name: "running", pod: corev1.Pod{Status: corev1.PodStatus{PodIP: "1.2.3.4", Phase: corev1.PodRunning}}, want: true},
		{name: "terminating excluded", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{PodIP: "1.2.3.4"}}, want: false},
		{name: "terminating included", pod: corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Status: corev1.PodStatus{PodIP: "1.2.3.4"}}, terminating: true, want: true},
		{name: "failed never", pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever}, Status: corev1.PodStatus{PodIP: "1.2.3.4", Phase: corev1.PodFailed}}, want: false},
		{name: "failed onfailure", pod: corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyOnFailure}, Status: corev1.PodStatus{PodIP: "1.2.3.4", Phase: corev1.PodFailed}}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ShouldPodBeInEndpoints(&tc.pod, tc.terminating); got != tc.want {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestPodIP(t *testing.T) {
	pod := &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.1", PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "fd00::1"}}}}
	if got := PodIP(pod, corev1.IPv4Protocol); got != "10.0.0.1" {
		t.Errorf("v4 = %q", got)
	}
	if got := PodIP(pod, corev1.IPv6Protocol); got != "fd00::1" {
		t.Errorf("v6 = %q", got)
	}
	single := &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.0.0.1"}}
	if got := PodIP(single, corev1.IPv6Protocol); got != "" {
		t.Errorf("v6 of v4-only pod = %q", got)
	}
}
