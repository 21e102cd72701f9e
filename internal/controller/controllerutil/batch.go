package controllerutil

import (
	"context"
	"errors"
	"sync"
)

// SlowStartInitialBatchSize is upstream's first batch size.
const SlowStartInitialBatchSize = 1

// SlowStartBatch calls fn count times in batches of growing size (initial, 2*initial, 4*initial...),
// all calls of a batch in parallel. It stops after the first batch with an error, so a failing
// create (quota, admission) costs one call rather than count calls, while healthy bursts ramp up
// to full parallelism in a few round trips. It returns how many calls succeeded and the errors of
// the failing batch.
func SlowStartBatch(ctx context.Context, count, initial int, fn func(ctx context.Context) error) (int, error) {
	remaining := count
	succeeded := 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		if err := ctx.Err(); err != nil {
			return succeeded, err
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []error
		for range batch {
			wg.Go(func() {
				if err := fn(ctx); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		succeeded += batch - len(errs)
		if len(errs) > 0 {
			return succeeded, errors.Join(errs...)
		}
		remaining -= batch
	}
	return succeeded, nil
}
