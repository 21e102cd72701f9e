// Command scheduler benchmarks the skiff scheduler in-process: it fills a
// fake clientset with nodes and pending pods, runs the scheduler, and
// prints how many pods per second it bound.
//
//	go run ./bench/scheduler -nodes 1000 -pods 10000
//
// The fake clientset's binding subresource sets spec.nodeName like the API
// server does, so bindings flow back through the informer into the
// scheduler's cache exactly as in a real cluster; only the network and
// etcd are missing. Figures printed:
//
//	bound      - pods whose binding call succeeded, per second of wall time
//	confirmed  - pods the scheduler's informer saw bound, per second
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/scheduler"
)

func main() {
	nodes := flag.Int("nodes", 1000, "simulated nodes (4 CPU, 16Gi, 110 pods each)")
	pods := flag.Int("pods", 10000, "pending pods to schedule")
	owners := flag.Int("owners", 100, "ReplicaSets the pods belong to (replicas spread by owner)")
	antiAffinity := flag.Bool("anti-affinity", false, "give every pod a preferred anti-affinity to its siblings")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*nodes, *pods, *owners, *antiAffinity); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(numNodes, numPods, numOwners int, antiAffinity bool) error {
	// The fake clientset's watchers panic when more than DefaultChanSize
	// events queue up; a burst of thousands of bindings needs more room.
	watch.DefaultChanSize = int32(4*numPods + 1000)

	objs := make([]runtime.Object, 0, numNodes+numPods)
	for i := 0; i < numNodes; i++ {
		objs = append(objs, node(fmt.Sprintf("node-%d", i)))
	}
	for i := 0; i < numPods; i++ {
		objs = append(objs, pod(i, i%numOwners, antiAffinity))
	}
	client := fake.NewSimpleClientset(objs...)

	var bound atomic.Int64
	var firstBind, lastBind atomic.Int64
	podsGVR := v1.SchemeGroupVersion.WithResource("pods")
	client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := action.(k8stesting.CreateAction).GetObject().(*v1.Binding)
		obj, err := client.Tracker().Get(podsGVR, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*v1.Pod).DeepCopy()
		if p.Spec.NodeName != "" {
			return true, nil, fmt.Errorf("pod %s already assigned", p.Name)
		}
		p.Spec.NodeName = b.Target.Name
		if err := client.Tracker().Update(podsGVR, p, p.Namespace); err != nil {
			return true, nil, err
		}
		now := time.Now().UnixNano()
		firstBind.CompareAndSwap(0, now)
		lastBind.Store(now)
		bound.Add(1)
		return true, b, nil
	})

	factory := informers.NewSharedInformerFactory(client, 0)
	sched := scheduler.New(client, factory, scheduler.Options{})
	var confirmed atomic.Int64
	podInformer := factory.Core().V1().Pods().Informer()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, obj any) {
			if old.(*v1.Pod).Spec.NodeName == "" && obj.(*v1.Pod).Spec.NodeName != "" {
				confirmed.Add(1)
			}
		},
	}); err != nil {
		return fmt.Errorf("add handler: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	fmt.Printf("scheduler bench: %d nodes, %d pods, %d owners, anti-affinity=%v, GOMAXPROCS=%d\n",
		numNodes, numPods, numOwners, antiAffinity, goruntime.GOMAXPROCS(0))
	start := time.Now()
	done := make(chan struct{})
	go func() { sched.Run(ctx); close(done) }()

	deadline := time.After(5 * time.Minute)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for confirmed.Load() < int64(numPods) {
		select {
		case <-deadline:
			return fmt.Errorf("timed out: %d/%d bound, %d confirmed", bound.Load(), numPods, confirmed.Load())
		case <-tick.C:
		}
	}
	total := time.Since(start)
	bindSpan := time.Duration(lastBind.Load() - firstBind.Load())
	cancel()
	<-done

	fmt.Printf("bound:     %d pods in %v (first to last binding %v) = %.0f pods/s\n",
		bound.Load(), total.Round(time.Millisecond), bindSpan.Round(time.Millisecond), float64(bound.Load())/total.Seconds())
	fmt.Printf("confirmed: %d pods seen bound through the informer = %.0f pods/s\n",
		confirmed.Load(), float64(confirmed.Load())/total.Seconds())
	return nil
}

func node(name string) *v1.Node {
	alloc := v1.ResourceList{
		v1.ResourceCPU:    resource.MustParse("4"),
		v1.ResourceMemory: resource.MustParse("16Gi"),
		v1.ResourcePods:   resource.MustParse("110"),
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name, "type": "simulated"}},
		Status: v1.NodeStatus{
			Capacity: alloc, Allocatable: alloc,
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

func pod(i, owner int, antiAffinity bool) *v1.Pod {
	yes := true
	app := fmt.Sprintf("app-%d", owner)
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: fmt.Sprintf("pod-%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
			Labels: map[string]string{"app": app},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: app, UID: types.UID("rs-" + app), Controller: &yes,
			}},
		},
		Spec: v1.PodSpec{
			SchedulerName: v1.DefaultSchedulerName,
			Containers: []v1.Container{{
				Name: "c", Image: "busybox",
				Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
					v1.ResourceCPU:    resource.MustParse("100m"),
					v1.ResourceMemory: resource.MustParse("128Mi"),
				}},
			}},
		},
	}
	if antiAffinity {
		p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []v1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: v1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
					TopologyKey:   v1.LabelHostname,
				},
			}},
		}}
	}
	return p
}
