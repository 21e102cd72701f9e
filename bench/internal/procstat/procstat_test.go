package procstat

import (
	"os"
	"testing"
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
