package apiserver

import (
	"context"
	"sync/atomic"
)

// workerPool runs short requests on long-lived goroutines.
//
// Go's HTTP/2 server starts a fresh goroutine, with a small stack, for every request. A write
// goes deep (decoding, validation, managed fields, etcd) and grows that stack four or five
// times, copying it each time: ~7% of the server's CPU under a create load. A pooled
// goroutine keeps its grown stack from one request to the next (the same idea as gRPC's
// NumStreamWorkers).
type workerPool struct {
	ctx     context.Context
	work    chan func()
	workers atomic.Int32
	max     int32
}

func newWorkerPool(ctx context.Context, max int) *workerPool {
	return &workerPool{ctx: ctx, work: make(chan func()), max: int32(max)}
}

// do runs f on an idle worker, or on a new one while fewer than max exist, or else on the
// caller's goroutine, and returns when f has returned. A panic in f is raised again in the
// caller, where the request's recovery handles it.
func (p *workerPool) do(f func()) {
	var panicked any
	done := make(chan struct{})
	job := func() {
		defer close(done)
		defer func() { panicked = recover() }()
		f()
	}
	select {
	case p.work <- job:
	default:
		if p.workers.Add(1) > p.max || p.ctx.Err() != nil {
			p.workers.Add(-1)
			f()
			return
		}
		go p.worker(job)
	}
	<-done
	if panicked != nil {
		panic(panicked)
	}
}

func (p *workerPool) worker(first func()) {
	defer p.workers.Add(-1)
	first()
	for {
		select {
		case f := <-p.work:
			f()
		case <-p.ctx.Done():
			return
		}
	}
}
