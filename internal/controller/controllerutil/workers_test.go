package controllerutil

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

func TestWorkersRetryFailedKeysAndForgetSucceededOnes(t *testing.T) {
	queue := NewQueue("test")
	var (
		mu     sync.Mutex
		calls  = map[string]int{}
		logged []string
	)
	done := make(chan struct{})
	syncKey := func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		if key == "flaky" && calls[key] == 1 {
			return errors.New("boom")
		}
		if calls["flaky"] == 2 && calls["steady"] == 1 {
			close(done)
		}
		return nil
	}
	queue.Add("steady")
	queue.Add("flaky")
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		Workers{
			Name: "test", Queue: queue, Sync: syncKey,
			LogError: func(_ klog.Logger, key string, err error) {
				mu.Lock()
				defer mu.Unlock()
				logged = append(logged, key+": "+err.Error())
			},
		}.Run(ctx, 2)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("keys were not processed")
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx was done")
	}
	if !queue.ShuttingDown() {
		t.Error("queue not shut down")
	}
	if n := queue.NumRequeues("flaky"); n != 0 {
		t.Errorf("flaky has %d requeues after succeeding, want its backoff forgotten", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["steady"] != 1 || calls["flaky"] != 2 {
		t.Errorf("calls = %v, want steady once and flaky twice", calls)
	}
	if len(logged) != 1 || logged[0] != "flaky: boom" {
		t.Errorf("logged %q, want the one failure", logged)
	}
}

func TestWorkersWaitForCaches(t *testing.T) {
	queue := NewQueue("test")
	queue.Add("key")
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var synced bool
	go func() {
		defer close(stopped)
		Workers{
			Name: "test", Queue: queue, Synced: []cache.InformerSynced{func() bool { return false }},
			Sync: func(context.Context, string) error { synced = true; return nil },
		}.Run(ctx, 1)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	<-stopped
	if synced {
		t.Error("a key was synced before the caches had synced")
	}
	if !queue.ShuttingDown() {
		t.Error("queue not shut down")
	}
}
