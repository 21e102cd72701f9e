// Package procstat reads the CPU time and memory of a process from /proc, for the benchmarks.
package procstat

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU is the user+system CPU time process pid has used so far, or 0 if it cannot be read.
func CPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after the last ')'.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// RSSMiB is the resident set of process pid (VmRSS).
func RSSMiB(pid int) float64 { return statusMiB(pid, "VmRSS:") }

// AnonMiB is the private anonymous memory of process pid (heap, stacks), without the pages
// of its executable it shares with other processes through the page cache.
func AnonMiB(pid int) float64 { return statusMiB(pid, "RssAnon:") }

// statusMiB reads one kB-valued field of /proc/PID/status; 0 if it cannot.
func statusMiB(pid int, field string) float64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuTicks returns the machine's busy and total CPU ticks so far, from the
// first line of /proc/stat (idle and iowait count as not busy).
func cpuTicks() (busy, total uint64, err error) {
	t, err := readTicks()
	return t.busy + t.steal, t.total, err
}

// Ticks is a snapshot of how the machine's CPUs have spent their time.
type Ticks struct {
	busy  uint64 // running anything, this machine's own work
	steal uint64 // runnable but run by the hypervisor for another guest
	total uint64
}

// ReadTicks takes a snapshot, zero if /proc/stat cannot be read.
func ReadTicks() Ticks {
	t, _ := readTicks()
	return t
}

func readTicks() (Ticks, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Ticks{}, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return Ticks{}, errors.New("/proc/stat: no cpu line")
	}
	var t Ticks
	// user nice system idle iowait irq softirq steal guest guest_nice; the
	// guest times are already counted in user and nice.
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return Ticks{}, fmt.Errorf("/proc/stat: %w", err)
		}
		t.total += n
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			t.steal += n
		default:
			t.busy += n
		}
	}
	return t, nil
}

// Share is how the machine's CPUs spent the time since t, as fractions:
// busy with this machine's work, stolen by the hypervisor, idle. On a shared
// VM the stolen share is time the bench's processes wanted and did not get.
func (t Ticks) Share() (busy, stolen, idle float64) {
	now := ReadTicks()
	total, b, s := now.total-t.total, now.busy-t.busy, now.steal-t.steal
	if total == 0 || b+s > total {
		return 0, 0, 0
	}
	d := float64(total)
	return float64(b) / d, float64(s) / d, float64(total-b-s) / d
}

// PrintShare prints Share as a bench's indented line about what.
func (t Ticks) PrintShare(what string) {
	busy, stolen, idle := t.Share()
	fmt.Printf("  machine during %s: busy %.0f%%, stolen by the hypervisor %.0f%%, idle %.0f%%\n", what, 100*busy, 100*stolen, 100*idle)
}

// WaitIdle waits until the whole machine's CPU was busy less than maxBusy
// (a fraction of all cores) during one window, so a measurement does not
// share the CPU with the clean-up of the one before. It gives up after
// timeout and reports how busy the last window was.
func WaitIdle(ctx context.Context, maxBusy float64, window, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	b0, t0, err := cpuTicks()
	if err != nil {
		return 0, err
	}
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(window):
		}
		b1, t1, err := cpuTicks()
		if err != nil {
			return 0, err
		}
		frac := 0.0
		if t1 > t0 {
			frac = float64(b1-b0) / float64(t1-t0)
		}
		if frac < maxBusy {
			return frac, nil
		}
		if time.Now().After(deadline) {
			return frac, fmt.Errorf("machine still %.0f%% busy after %s", frac*100, timeout)
		}
		b0, t0 = b1, t1
	}
}

// SpeedIndex times two fixed workloads and returns them in milliseconds: cpu,
// a single-threaded SHA-256 over 64 MiB (pure user-space compute), and
// syscalls, 5,000 one-byte round trips over a loopback TCP connection (kernel
// entries and goroutine wake-ups, what an API server under load spends much
// of its time on). Printed beside a bench's figures they show how fast the
// machine ran then: on a shared VM the same binary's figures swing by 2x
// between hours, and the two kinds of work do not always slow down together.
func SpeedIndex() (cpu, syscalls float64, err error) {
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	bestCPU, bestSys := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	// The best of three: a momentary preemption is not the machine's speed.
	for range 3 {
		t0 := time.Now()
		h := sha256.New()
		for range 64 {
			h.Write(buf)
		}
		h.Sum(nil)
		bestCPU = min(bestCPU, time.Since(t0))
		d, err := loopbackRoundTrips(5000)
		if err != nil {
			return 0, 0, err
		}
		bestSys = min(bestSys, d)
	}
	return float64(bestCPU) / float64(time.Millisecond), float64(bestSys) / float64(time.Millisecond), nil
}

// loopbackRoundTrips times n one-byte request/answer exchanges over loopback TCP.
func loopbackRoundTrips(n int) (time.Duration, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("speed index: %w", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b := make([]byte, 1)
		for {
			if _, err := io.ReadFull(c, b); err != nil {
				return
			}
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return 0, fmt.Errorf("speed index: %w", err)
	}
	defer c.Close()
	b := []byte{1}
	t0 := time.Now()
	for range n {
		if _, err := c.Write(b); err != nil {
			return 0, fmt.Errorf("speed index: %w", err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return 0, fmt.Errorf("speed index: %w", err)
		}
	}
	return time.Since(t0), nil
}

// PrintSpeedIndex prints SpeedIndex as a bench's line labelled when.
func PrintSpeedIndex(when string) {
	cpu, sys, err := SpeedIndex()
	if err != nil {
		fmt.Printf("machine speed index %s: %v\n", when, err)
		return
	}
	fmt.Printf("machine speed index %s: cpu %.1f ms, syscalls %.1f ms (lower is faster)\n", when, cpu, sys)
}
