package backoff

import (
	"testing"
	"time"
)

func TestBackoffSequence(t *testing.T) {
	b := New(0, 0)
	t0 := time.Unix(1000, 0)
	key := "uid/app/hash"

	// The first failure restarts at once; each later one waits 10s, 20s, 40s ... 5m.
	if in, _ := b.InBackoff(key, t0, t0); in {
		t.Fatal("no back-off before the first restart")
	}
	now := t0
	wantDelays := []time.Duration{10, 20, 40, 80, 160, 300, 300}
	for i, want := range wantDelays {
		b.Next(key, now)
		if got := b.Delay(key); got != want*time.Second {
			t.Fatalf("restart %d: delay %v, want %v", i+1, got, want*time.Second)
		}
		exit := now.Add(time.Second) // the container crashes a second after starting
		in, wait := b.InBackoff(key, exit, exit.Add(time.Second))
		if !in || wait != want*time.Second-time.Second {
			t.Fatalf("restart %d: InBackoff = %v, %v; want true, %v", i+1, in, wait, want*time.Second-time.Second)
		}
		now = exit.Add(want * time.Second)
		if in, _ := b.InBackoff(key, exit, now); in {
			t.Fatalf("restart %d: still in back-off after the delay", i+1)
		}
	}
}

func TestBackoffResetsAfterQuietPeriod(t *testing.T) {
	b := New(time.Second, 4*time.Second)
	t0 := time.Unix(0, 0)
	b.Next("k", t0)
	b.Next("k", t0.Add(time.Second))
	if b.Delay("k") != 2*time.Second {
		t.Fatalf("delay %v", b.Delay("k"))
	}
	later := t0.Add(time.Minute)
	if in, _ := b.InBackoff("k", later, later); in {
		t.Fatal("back-off should reset after 2*max without retries")
	}
	b.Next("k", later)
	if b.Delay("k") != time.Second {
		t.Fatalf("delay after reset %v, want 1s", b.Delay("k"))
	}
}

func TestForget(t *testing.T) {
	b := New(0, 0)
	now := time.Now()
	b.Next("uid1/a", now)
	b.Next("uid1/b", now)
	b.Next("uid2/a", now)
	b.Forget("uid1/")
	if b.Delay("uid1/a") != 0 || b.Delay("uid1/b") != 0 || b.Delay("uid2/a") == 0 {
		t.Fatal("Forget removed the wrong keys")
	}
}
