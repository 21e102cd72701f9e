package endpoints

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

type podOpt func(*corev1.Pod)

func newPod(name, ip string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) {
	now := metav1.Now()
	p.DeletionTimestamp = &now
}
func succeededNever(p *corev1.Pod) {
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	p.Status.Phase = corev1.PodSucceeded
}
func otherLabels(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} }
func hostname(h, sub string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = h, sub }
}

func newService(opts ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.96.0.10",
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func addr(name, ip string, host string) corev1.EndpointAddress {
	a := corev1.EndpointAddress{IP: ip, NodeName: ptrTo("node-1"), Hostname: host,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}}
	return a
}

func TestSyncBuildsEndpoints(t *testing.T) {
	httpPort := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}
	tests := []struct {
		name        string
		svc         *corev1.Service
		pods        []*corev1.Pod
		wantSubsets []corev1.EndpointSubset
		wantLabels  map[string]string
	}{
		{
			name: "ready and not ready pods, named port resolved",
			svc:  newService(),
			pods: []*corev1.Pod{
				newPod("b", "10.0.0.2"), newPod("a", "10.0.0.1"), newPod("c", "10.0.0.3", notReady),
				newPod("noip", ""), newPod("gone", "10.0.0.9", terminating), newPod("done", "10.0.0.8", succeededNever),
				newPod("other", "10.0.0.7", otherLabels),
			},
			wantSubsets: []corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{addr("a", "10.0.0.1", ""), addr("b", "10.0.0.2", "")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("c", "10.0.0.3", "")},
				Ports:             httpPort,
			}},
			wantLabels: map[string]string{"tier": "front"},
		},
		{
			name: "publishNotReadyAddresses lists unready pods as ready",
			svc:  newService(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			pods: []*corev1.Pod{newPod("c", "10.0.0.3", notReady)},
			wantSubsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("c", "10.0.0.3", "")},
				Ports:     httpPort,
			}},
			wantLabels: map[string]string{"tier": "front"},
		},
		{
			name: "headless service without ports publishes hostnames of its subdomain",
			svc: newService(func(s *corev1.Service) {
				s.Spec.ClusterIP = corev1.ClusterIPNone
				s.Spec.Ports = nil
			}),
			pods: []*corev1.Pod{newPod("web-0", "10.0.0.1", hostname("web-0", "web")), newPod("x", "10.0.0.2", hostname("x", "elsewhere"))},
			wantSubsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("web-0", "10.0.0.1", "web-0"), addr("x", "10.0.0.2", "")},
			}},
			wantLabels: map[string]string{"tier": "front", headlessLabel: ""},
		},
		{
			name: "numeric target port and pods not exposing a named port",
			svc: newService(func(s *corev1.Service) {
				s.Spec.Ports = []corev1.ServicePort{
					{Name: "metrics", Port: 9000, TargetPort: intstr.FromInt32(9090), Protocol: corev1.ProtocolTCP},
					{Name: "grpc", Port: 90, TargetPort: intstr.FromString("grpc"), Protocol: corev1.ProtocolTCP},
				}
			}),
			pods: []*corev1.Pod{newPod("a", "10.0.0.1")},
			wantSubsets: []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1", "")},
				Ports:     []corev1.EndpointPort{{Name: "metrics", Port: 9090, Protocol: corev1.ProtocolTCP}},
			}},
			wantLabels: map[string]string{"tier": "front"},
		},
		{
			name:       "no pods gives an empty Endpoints",
			svc:        newService(),
			wantLabels: map[string]string{"tier": "front"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, client, factory := newTestController(t)
			_ = factory.Core().V1().Services().Informer().GetIndexer().Add(tc.svc)
			for _, p := range tc.pods {
				_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(p)
			}
			if err := c.sync(context.Background(), "ns/web"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			ep, err := client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("endpoints not created: %v", err)
			}
			if !apiequality.Semantic.DeepEqual(normalise(ep.Subsets), normalise(tc.wantSubsets)) {
				t.Errorf("subsets\n got %+v\nwant %+v", ep.Subsets, tc.wantSubsets)
			}
			if !apiequality.Semantic.DeepEqual(ep.Labels, tc.wantLabels) {
				t.Errorf("labels %v, want %v", ep.Labels, tc.wantLabels)
			}
		})
	}
}

func newTestController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, informers.SharedInformerFactory) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	return New(client, factory), client, factory
}

func TestSyncUpdatesOnlyOnChangeAndDeletesWithService(t *testing.T) {
	svc := newService()
	pod := newPod("a", "10.0.0.1")
	c, client, factory := newTestController(t)
	_ = factory.Core().V1().Services().Informer().GetIndexer().Add(svc)
	_ = factory.Core().V1().Pods().Informer().GetIndexer().Add(pod)
	ctx := context.Background()
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	ep, _ := client.CoreV1().Endpoints("ns").Get(ctx, "web", metav1.GetOptions{})
	_ = factory.Core().V1().Endpoints().Informer().GetIndexer().Add(ep)

	// Nothing changed: no write.
	client.ClearActions()
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Fatalf("unchanged sync made %d API calls: %v", n, client.Actions())
	}

	// The pod turns unready: one update moving it to notReadyAddresses.
	unready := pod.DeepCopy()
	notReady(unready)
	_ = factory.Core().V1().Pods().Informer().GetIndexer().Update(unready)
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	ep, _ = client.CoreV1().Endpoints("ns").Get(ctx, "web", metav1.GetOptions{})
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 0 || len(ep.Subsets[0].NotReadyAddresses) != 1 {
		t.Fatalf("after unready: %+v", ep.Subsets)
	}
	_ = factory.Core().V1().Endpoints().Informer().GetIndexer().Update(ep)

	// The service goes: its Endpoints are deleted.
	_ = factory.Core().V1().Services().Informer().GetIndexer().Delete(svc)
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Endpoints("ns").Get(ctx, "web", metav1.GetOptions{}); err == nil {
		t.Fatal("endpoints survived their service")
	}
}

func TestSelectorlessServiceUntouched(t *testing.T) {
	svc := newService(func(s *corev1.Service) { s.Spec.Selector = nil })
	c, client, factory := newTestController(t)
	_ = factory.Core().V1().Services().Informer().GetIndexer().Add(svc)
	if err := c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Fatalf("selectorless service caused %d API calls", n)
	}
}

func TestPodEventsEnqueueMatchingServices(t *testing.T) {
	c, _, factory := newTestController(t)
	_ = factory.Core().V1().Services().Informer().GetIndexer().Add(newService())
	other := newService(func(s *corev1.Service) { s.Name = "db"; s.Spec.Selector = map[string]string{"app": "db"} })
	_ = factory.Core().V1().Services().Informer().GetIndexer().Add(other)

	old := newPod("a", "", notReady)
	old.ResourceVersion = "1"
	cur := newPod("a", "10.0.0.1", notReady)
	cur.ResourceVersion = "2"
	c.podEvents.OnUpdate(old, cur)
	if c.queue.Len() != 1 {
		t.Fatalf("queue has %d keys, want only ns/web", c.queue.Len())
	}
	key, _ := c.queue.Get()
	if key != "ns/web" {
		t.Fatalf("queued %q", key)
	}
	c.queue.Done(key)

	// A relabel to app=db touches both services.
	moved := cur.DeepCopy()
	moved.ResourceVersion = "3"
	otherLabels(moved)
	c.podEvents.OnUpdate(cur, moved)
	if c.queue.Len() != 2 {
		t.Fatalf("queue has %d keys after relabel, want 2", c.queue.Len())
	}
}

func TestStaleCacheAfterOwnWrite(t *testing.T) {
	w := &writtenVersions{rv: map[string]uint64{}}
	w.record("ns/web", "10")
	if !w.stale("ns/web", "9") || w.stale("ns/web", "10") || w.stale("ns/other", "1") {
		t.Fatal("stale() wrong")
	}
}
