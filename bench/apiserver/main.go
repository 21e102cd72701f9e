// Command apiserver benchmarks a real `skiff server` process with client-go clients and prints
// the figures of issue 2: create throughput, GET latency, LIST time, watch latency, start time
// and idle memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/bench/internal/procstat"
	"github.com/skiff-sh/skiff/internal/procmem"
)

func main() {
	bin := flag.String("skiff", "", "skiff binary (default: build ./cmd/skiff)")
	clients := flag.Int("clients", 8, "parallel client-go clients")
	creates := flag.Int("creates", 10000, "ConfigMaps to create")
	gets := flag.Int("gets", 4000, "GETs per client")
	watchers := flag.Int("watchers", 100, "open watchers for the watch-latency test")
	writes := flag.Int("watch-writes", 300, "writes observed by the watchers")
	clientGC := flag.Int("client-gc-percent", 400, "GOGC of this process, which runs all the clients")
	flag.Parse()
	// The clients share this process's Go runtime, and with it one collector: on their 1-4 MiB
	// heap it ran every ~15 ms at the default GOGC=100, and each stop-the-world paused all of them
	// at once, which clients in processes of their own would not suffer together. Collecting less
	// often takes that out of the server's figures: GET p50 0.42-0.63 -> 0.28-0.34 ms, p99
	// 4.2-5.0 -> 3.4-4.1 ms, clients' CPU per GET 0.08-0.11 -> 0.06 ms, same hour, interleaved.
	// The server keeps its own default.
	debug.SetGCPercent(*clientGC)
	fmt.Printf("clients: %d client-go clients in this process, its GOGC=%d\n", *clients, *clientGC)
	if err := run(*bin, *clients, *creates, *gets, *watchers, *writes); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type server struct {
	cmd  *exec.Cmd
	dir  string
	port int
}

func start(bin, dir string, port int) (*server, time.Duration, error) {
	t0 := time.Now()
	cmd := exec.Command(bin, "server", "--data-dir", dir, "--https-port", strconv.Itoa(port), "--disable-agent")
	logf, err := os.OpenFile(filepath.Join(dir, "bench-server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, 0, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	s := &server{cmd: cmd, dir: dir, port: port}
	// /readyz is served without credentials.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
	for time.Since(t0) < 60*time.Second {
		resp, err := client.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, time.Since(t0), nil
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.stop()
	return nil, 0, fmt.Errorf("server not ready after 60s")
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

func (s *server) rssMiB() float64 { return procstat.RSSMiB(s.cmd.Process.Pid) }

// cpuTime is the user+system CPU the server process has used so far.
func (s *server) cpuTime() time.Duration { return procstat.CPU(s.cmd.Process.Pid) }

// selfCPU is the CPU this benchmark process (the clients) has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (s *server) config() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(s.dir, "kubeconfig.yaml"))
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = -1, 0
	return cfg, nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p)
	return d[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func run(bin string, nClients, nCreates, nGets, nWatchers, nWrites int) error {
	if bin == "" {
		dir, err := os.MkdirTemp("", "skiff-bench")
		if err != nil {
			return err
		}
		bin = filepath.Join(dir, "skiff")
		build := exec.Command("go", "build", "-o", bin, "./cmd/skiff")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	// Measure memory as an installed binary runs, not as one just written by the linker.
	if err := procmem.DropFileCache(bin); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "skiff-bench-data")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	procstat.PrintSpeedIndex("before")
	defer procstat.PrintSpeedIndex("after")
	port := 20000 + os.Getpid()%20000
	s, firstStart, err := start(bin, dir, port)
	if err != nil {
		return err
	}
	fmt.Printf("first start to /readyz:               %s\n", ms(firstStart))
	// Idle means settled: controllers synced and start-up garbage returned.
	time.Sleep(10 * time.Second)
	fmt.Printf("RSS idle (fresh, incl. etcd):         %.1f MiB\n", s.rssMiB())
	cfg, err := s.config()
	if err != nil {
		return err
	}
	ctx := context.Background()
	cs := make([]kubernetes.Interface, nClients)
	for i := range cs {
		c := rest.CopyConfig(cfg)
		// A dialer of its own keeps client-go from sharing one cached transport (and so one
		// HTTP/2 connection) among the clients: each is a separate client, as 8 processes would be.
		d := &net.Dialer{Timeout: 10 * time.Second}
		c.Dial = d.DialContext
		if cs[i], err = kubernetes.NewForConfig(c); err != nil {
			return err
		}
	}

	// Creates.
	var next atomic.Int64
	var wg sync.WaitGroup
	var failures atomic.Int64
	t0 := time.Now()
	serverCPU0, clientCPU0 := s.cpuTime(), selfCPU()
	ticks0 := procstat.ReadTicks()
	for i := 0; i < nClients; i++ {
		wg.Add(1)
		go func(c kubernetes.Interface) {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(nCreates) {
					return
				}
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%06d", n)}, Data: map[string]string{"k": "v"}}
				if _, err := c.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					failures.Add(1)
				}
			}
		}(cs[i])
	}
	wg.Wait()
	el := time.Since(t0)
	fmt.Printf("ConfigMap creates (%d clients):        %.0f/s (%d in %s, %d failed)\n", nClients, float64(nCreates)/el.Seconds(), nCreates, el.Round(time.Millisecond), failures.Load())
	perCreate := func(d time.Duration) string { return ms(d / time.Duration(nCreates)) }
	fmt.Printf("  CPU per create: server %s, clients %s\n", perCreate(s.cpuTime()-serverCPU0), perCreate(selfCPU()-clientCPU0))
	ticks0.PrintShare("creates")

	// GETs.
	serverCPU0, clientCPU0 = s.cpuTime(), selfCPU()
	ticks0 = procstat.ReadTicks()
	lat := make([][]time.Duration, nClients)
	for i := 0; i < nClients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < nGets; j++ {
				name := fmt.Sprintf("cm-%06d", 1+(i*nGets+j*7919)%nCreates)
				t := time.Now()
				if _, err := cs[i].CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err == nil {
					lat[i] = append(lat[i], time.Since(t))
				}
			}
		}(i)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	fmt.Printf("single GET (%d clients, %d GETs):    p50 %s, p99 %s\n", nClients, len(all), ms(percentile(all, 0.5)), ms(percentile(all, 0.99)))
	if n := time.Duration(len(all)); n > 0 {
		fmt.Printf("  CPU per GET: server %s, clients %s\n", ms((s.cpuTime()-serverCPU0)/n), ms((selfCPU()-clientCPU0)/n))
	}
	ticks0.PrintShare("GETs")

	// LIST of all ConfigMaps.
	var lists []time.Duration
	for i := 0; i < 7; i++ {
		t := time.Now()
		l, err := cs[0].CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		lists = append(lists, time.Since(t))
		if len(l.Items) < nCreates {
			return fmt.Errorf("list returned %d items", len(l.Items))
		}
	}
	fmt.Printf("LIST of %d ConfigMaps (client-go):  median %s, max %s\n", nCreates, ms(percentile(lists, 0.5)), ms(percentile(lists, 1)))

	// Watch latency with many watchers open.
	if _, err := cs[0].CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "watched"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	replyAt := make([]atomic.Int64, nWrites)
	var wlat []time.Duration
	var wmu sync.Mutex
	var ready sync.WaitGroup
	var watchDone sync.WaitGroup
	for i := 0; i < nWatchers; i++ {
		w, err := cs[i%nClients].CoreV1().ConfigMaps("watched").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		ready.Add(1)
		watchDone.Add(1)
		go func(w watch.Interface) {
			defer watchDone.Done()
			defer w.Stop()
			ready.Done()
			seen := 0
			for ev := range w.ResultChan() {
				arrived := time.Now()
				if ev.Type != watch.Added {
					continue
				}
				cm := ev.Object.(*corev1.ConfigMap)
				idx, _ := strconv.Atoi(strings.TrimPrefix(cm.Name, "w-"))
				// The reply may be recorded just after the event arrives; wait for it.
				var at int64
				for at = replyAt[idx].Load(); at == 0; at = replyAt[idx].Load() {
					time.Sleep(50 * time.Microsecond)
				}
				d := arrived.Sub(time.Unix(0, at))
				if d < 0 {
					d = 0
				}
				wmu.Lock()
				wlat = append(wlat, d)
				wmu.Unlock()
				seen++
				if seen == nWrites {
					return
				}
			}
		}(w)
	}
	ready.Wait()
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < nWrites; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w-%d", i)}}
		if _, err := cs[0].CoreV1().ConfigMaps("watched").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			return err
		}
		replyAt[i].Store(time.Now().UnixNano())
		time.Sleep(5 * time.Millisecond)
	}
	waitCh := make(chan struct{})
	go func() { watchDone.Wait(); close(waitCh) }()
	select {
	case <-waitCh:
	case <-time.After(60 * time.Second):
		fmt.Println("watch latency: some watchers missed events")
	}
	fmt.Printf("watch delivery after reply (%d watchers, %d events): p50 %s, p99 %s\n", nWatchers, len(wlat), ms(percentile(wlat, 0.5)), ms(percentile(wlat, 0.99)))

	// Restart on the existing data dir.
	s.stop()
	s, restart, err := start(bin, dir, port)
	if err != nil {
		return err
	}
	fmt.Printf("restart on existing data dir to /readyz: %s (with %d objects)\n", ms(restart), nCreates+nWrites)
	time.Sleep(10 * time.Second)
	fmt.Printf("RSS idle after restart (%d objects):  %.1f MiB\n", nCreates+nWrites, s.rssMiB())
	s.stop()
	return nil
}
