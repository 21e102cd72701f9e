package apiserver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestWorkerPool(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		callers int
	}{
		{name: "one worker, serial callers", max: 1, callers: 1},
		{name: "more callers than workers run inline", max: 2, callers: 16},
		{name: "no workers: everything inline", max: 0, callers: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := newWorkerPool(ctx, tt.max)
			var ran atomic.Int32
			var wg sync.WaitGroup
			for i := 0; i < tt.callers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := 0; j < 50; j++ {
						p.do(func() { ran.Add(1) })
					}
				}()
			}
			wg.Wait()
			if got, want := ran.Load(), int32(tt.callers*50); got != want {
				t.Fatalf("ran %d jobs, want %d", got, want)
			}
			if n := p.workers.Load(); n > int32(tt.max) {
				t.Fatalf("%d workers, max %d", n, tt.max)
			}
		})
	}
}

func TestWorkerPoolPanicReachesCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := newWorkerPool(ctx, 1)
	defer func() {
		if rec := recover(); rec != "boom" {
			t.Fatalf("recovered %v, want boom", rec)
		}
		// The worker survived the panic and serves the next job.
		ok := false
		p.do(func() { ok = true })
		if !ok {
			t.Fatal("job after a panic did not run")
		}
	}()
	p.do(func() { panic("boom") })
}
