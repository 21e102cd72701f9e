package nodeipam

import (
	"context"
	"net"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func TestFirstFree(t *testing.T) {
	_, cluster, _ := net.ParseCIDR("10.42.0.0/16")
	cases := []struct {
		used map[string]bool
		want string
	}{
		{nil, "10.42.0.0/24"},
		{map[string]bool{"10.42.0.0/24": true}, "10.42.1.0/24"},
		{map[string]bool{"10.42.0.0/24": true, "10.42.2.0/24": true}, "10.42.1.0/24"},
	}
	for _, tc := range cases {
		got, err := FirstFree(cluster, 24, tc.used)
		if err != nil || got != tc.want {
			t.Errorf("used %v: got %q %v, want %q", tc.used, got, err, tc.want)
		}
	}
	_, tiny, _ := net.ParseCIDR("10.42.0.0/24")
	if _, err := FirstFree(tiny, 25, map[string]bool{"10.42.0.0/25": true, "10.42.0.128/25": true}); err == nil {
		t.Error("full range: want an error")
	}
}

func TestSyncAssignsDistinctRangesAndSkipsSimulated(t *testing.T) {
	nodes := []*corev1.Node{
		{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "sim-0", Labels: map[string]string{"type": "simulated"}}},
	}
	client := fake.NewClientset(nodes[0], nodes[1], nodes[2])
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(client, factory, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		_ = factory.Core().V1().Nodes().Informer().GetStore().Add(n)
	}
	if err := c.sync(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	got, _ := client.CoreV1().Nodes().Get(context.Background(), "b", metav1.GetOptions{})
	if got.Spec.PodCIDR != "10.42.1.0/24" || len(got.Spec.PodCIDRs) != 1 {
		t.Fatalf("node b got %q %v", got.Spec.PodCIDR, got.Spec.PodCIDRs)
	}
	c.enqueue(nodes[2])
	if c.queue.Len() != 0 {
		t.Fatal("simulated node was queued")
	}
}
