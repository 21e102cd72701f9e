// Package procstat reads the CPU time and memory of a process from /proc, for the benchmarks.
package procstat

import (
	"fmt"
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
