package scheduler

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func newTestQueue() (*schedulingQueue, *testingclock.FakeClock) {
	clk := testingclock.NewFakeClock(time.Unix(1000, 0))
	return newSchedulingQueue(clk, time.Second, 10*time.Second), clk
}

func popName(t *testing.T, q *schedulingQueue) (*queuedPod, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() { <-ctx.Done(); q.mu.Lock(); q.cond.Broadcast(); q.mu.Unlock() }()
	qp, cycle, ok := q.pop(ctx)
	if !ok {
		t.Fatal("pop: queue empty")
	}
	return qp, cycle
}

func TestQueueOrder(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("low-first", withPriority(0)))
	clk.Step(time.Millisecond)
	q.add(testPod("high", withPriority(100)))
	clk.Step(time.Millisecond)
	q.add(testPod("low-second", withPriority(0)))
	for _, want := range []string{"high", "low-first", "low-second"} {
		qp, _ := popName(t, q)
		if qp.info.pod.Name != want {
			t.Fatalf("popped %s, want %s", qp.info.pod.Name, want)
		}
		q.done(qp.info.key)
	}
}

func TestBackoffDuration(t *testing.T) {
	q, _ := newTestQueue()
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 20: 10 * time.Second} {
		if got := q.backoffDuration(attempts); got != want {
			t.Errorf("backoffDuration(%d) = %v, want %v", attempts, got, want)
		}
	}
}

func TestUnschedulableWaitsForEvent(t *testing.T) {
	tests := []struct {
		name        string
		rejectedBy  pluginID
		event       clusterEvent
		advance     time.Duration
		wantActive  int
		wantBackoff int
		wantUnsched int
	}{
		{name: "no event: stays unschedulable", rejectedBy: pluginNodeResourcesFit, wantUnsched: 1},
		{name: "node added while backing off: to back-off", rejectedBy: pluginNodeResourcesFit, event: clusterEvent{plugins: allPlugins}, wantBackoff: 1},
		{name: "node added after back-off: to active", rejectedBy: pluginNodeResourcesFit, event: clusterEvent{plugins: allPlugins}, advance: 2 * time.Second, wantActive: 1},
		{name: "pod delete helps resource fit", rejectedBy: pluginNodeResourcesFit, event: clusterEvent{plugins: assignedPodDeletePlugins}, advance: 2 * time.Second, wantActive: 1},
		{name: "pod delete does not help taints", rejectedBy: pluginTaintToleration, event: clusterEvent{plugins: assignedPodDeletePlugins}, advance: 2 * time.Second, wantUnsched: 1},
		{name: "unrelated pod added does not help affinity", rejectedBy: pluginInterPodAffinity,
			event: clusterEvent{plugins: assignedPodAddPlugins, pod: testPod("x", withLabels(map[string]string{"app": "other"}))}, advance: 2 * time.Second, wantUnsched: 1},
		{name: "matching pod added helps affinity", rejectedBy: pluginInterPodAffinity,
			event: clusterEvent{plugins: assignedPodAddPlugins, pod: testPod("x", withLabels(map[string]string{"app": "db"}))}, advance: 2 * time.Second, wantActive: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clk := newTestQueue()
			q.add(testPod("p", withAffinity(podAffinity(true, false, "zone", selector("app", "db")))))
			qp, cycle := popName(t, q)
			q.requeueFailed(qp, cycle, tt.rejectedBy, false)
			clk.Step(tt.advance)
			if tt.event.plugins != 0 {
				q.moveOnEvent(tt.event)
			}
			a, b, u := q.lengths()
			if a != tt.wantActive || b != tt.wantBackoff || u != tt.wantUnsched {
				t.Errorf("active/backoff/unschedulable = %d/%d/%d, want %d/%d/%d", a, b, u, tt.wantActive, tt.wantBackoff, tt.wantUnsched)
			}
		})
	}
}

func TestBackoffFlush(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p"))
	// Fail twice: the second back-off is 2s.
	for i := 0; i < 2; i++ {
		qp, cycle := popName(t, q)
		q.requeueFailed(qp, cycle, 0, true) // an error goes straight to back-off
		clk.Step(time.Duration(i+1) * time.Second)
		q.flushBackoffCompleted()
	}
	// After the first failure 1s passed (flushed); after the second only 2s
	// passed of a 2s back-off, which is complete too.
	if a, b, _ := q.lengths(); a != 1 || b != 0 {
		t.Fatalf("active/backoff = %d/%d, want 1/0", a, b)
	}
	qp, cycle := popName(t, q)
	q.requeueFailed(qp, cycle, 0, true) // third failure: 4s
	clk.Step(3 * time.Second)
	q.flushBackoffCompleted()
	if a, b, _ := q.lengths(); a != 0 || b != 1 {
		t.Fatalf("after 3s of 4s: active/backoff = %d/%d, want 0/1", a, b)
	}
	clk.Step(time.Second)
	q.flushBackoffCompleted()
	if a, b, _ := q.lengths(); a != 1 || b != 0 {
		t.Fatalf("after 4s: active/backoff = %d/%d, want 1/0", a, b)
	}
}

func TestMoveDuringAttemptGoesToBackoff(t *testing.T) {
	q, _ := newTestQueue()
	q.add(testPod("p"))
	qp, cycle := popName(t, q)
	// A node is added while the pod is being scheduled; its failure must
	// not park it waiting for another event.
	q.moveOnEvent(clusterEvent{plugins: allPlugins})
	q.requeueFailed(qp, cycle, pluginNodeResourcesFit, false)
	if _, b, u := q.lengths(); b != 1 || u != 0 {
		t.Errorf("backoff/unschedulable = %d/%d, want 1/0", b, u)
	}
}

func TestUnschedulableLeftoverFlush(t *testing.T) {
	q, clk := newTestQueue()
	q.add(testPod("p"))
	qp, cycle := popName(t, q)
	q.requeueFailed(qp, cycle, pluginTaintToleration, false)
	clk.Step(4 * time.Minute)
	q.flushUnschedulableLeftover()
	if _, _, u := q.lengths(); u != 1 {
		t.Fatalf("flushed before 5 minutes")
	}
	clk.Step(2 * time.Minute)
	q.flushUnschedulableLeftover()
	if a, _, u := q.lengths(); a != 1 || u != 0 {
		t.Fatalf("active/unschedulable = %d/%d, want 1/0", a, u)
	}
}

func TestQueueUpdateAndRemove(t *testing.T) {
	q, _ := newTestQueue()
	old := testPod("p")
	q.add(old)
	qp, cycle := popName(t, q)
	q.requeueFailed(qp, cycle, pluginNodeAffinity, false)

	// A status-only update keeps the pod waiting.
	statusOnly := old.DeepCopy()
	statusOnly.ResourceVersion = "2"
	statusOnly.Status.Conditions = []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionFalse}}
	q.update(old, statusOnly)
	if _, _, u := q.lengths(); u != 1 {
		t.Fatal("status-only update requeued the pod")
	}
	// A spec change (new nodeSelector) retries it.
	changed := statusOnly.DeepCopy()
	changed.ResourceVersion = "3"
	changed.Spec.NodeSelector = map[string]string{"a": "b"}
	q.update(statusOnly, changed)
	if a, b, u := q.lengths(); a+b != 1 || u != 0 {
		t.Fatalf("spec update: active/backoff/unschedulable = %d/%d/%d", a, b, u)
	}
	q.remove(changed)
	if a, b, u := q.lengths(); a+b+u != 0 {
		t.Fatal("remove left the pod queued")
	}

	// A pod deleted while being scheduled is not requeued.
	q.add(testPod("d"))
	qp, cycle = popName(t, q)
	q.remove(qp.info.pod)
	q.requeueFailed(qp, cycle, pluginNodeResourcesFit, false)
	if a, b, u := q.lengths(); a+b+u != 0 {
		t.Fatal("deleted in-flight pod was requeued")
	}
}
