package procstat

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestOwnProcess(t *testing.T) {
	pid := os.Getpid()
	tests := []struct {
		name string
		got  float64
	}{
		{"rss", RSSMiB(pid)},
		{"anon", AnonMiB(pid)},
	}
	for _, tt := range tests {
		if tt.got <= 0 {
			t.Errorf("%s of this process = %v MiB, want > 0", tt.name, tt.got)
		}
	}
	for i := 0; CPU(pid) == 0 && i < 1e9; i++ { // burn a tick of CPU
	}
	if CPU(pid) <= 0 {
		t.Error("CPU time of this process is 0")
	}
	if RSSMiB(0) != 0 || CPU(1<<30) != 0 {
		t.Error("want 0 for processes that do not exist")
	}
}

func TestWaitIdleReturnsTheWindowsLoad(t *testing.T) {
	ctx := context.Background()
	// Anything is below 101% busy: the first window is enough.
	busy, err := WaitIdle(ctx, 1.01, 50*time.Millisecond, time.Second)
	if err != nil || busy < 0 || busy > 1 {
		t.Fatalf("WaitIdle(1.01) = %v, %v; want a fraction in [0,1] and no error", busy, err)
	}
	// Nothing is below 0% busy: it gives up at the timeout.
	if _, err := WaitIdle(ctx, 0, 50*time.Millisecond, 120*time.Millisecond); err == nil {
		t.Fatal("WaitIdle(0) did not give up")
	}
}

func TestSpeedIndex(t *testing.T) {
	cpu, sys, err := SpeedIndex()
	if err != nil {
		t.Fatal(err)
	}
	if cpu <= 0 || cpu > 60000 || sys <= 0 || sys > 60000 {
		t.Errorf("speed index cpu %.1f ms, syscalls %.1f ms", cpu, sys)
	}
}

func TestShareAddsUp(t *testing.T) {
	t0 := ReadTicks()
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); { // burn some CPU
	}
	busy, stolen, idle := t0.Share()
	if sum := busy + stolen + idle; busy <= 0 || stolen < 0 || idle < 0 || sum < 0.999999 || sum > 1.000001 {
		t.Errorf("Share() = %v, %v, %v; want a busy share and fractions adding up to 1", busy, stolen, idle)
	}
}
