// Command app is the program inside skiff's test image: an HTTP server and
// a handful of tiny tools (sh, cat, echo, sleep, ...) chosen by the name it
// is called by, so a FROM-scratch image can serve, exec and misbehave on
// purpose (crash, hog memory, fail probes) in end-to-end tests.
package main

import (
	"archive/tar"
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "app" || name == "testapp" {
		if len(args) == 0 {
			args = []string{"serve"}
		}
		name, args = args[0], args[1:]
	}
	os.Exit(run(name, args, os.Stdin, os.Stdout, os.Stderr))
}

func run(name string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch name {
	case "serve":
		return serve(args, stdout)
	case "exit":
		code := 1
		if len(args) > 0 {
			code, _ = strconv.Atoi(args[0])
		}
		fmt.Fprintf(stdout, "exiting with %d\n", code)
		if len(args) > 1 {
			d, _ := time.ParseDuration(args[1])
			time.Sleep(d)
		}
		return code
	case "memhog":
		mb := 1024
		if len(args) > 0 {
			mb, _ = strconv.Atoi(args[0])
		}
		fmt.Fprintf(stdout, "allocating %d MiB\n", mb)
		var keep [][]byte
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
		}
		fmt.Fprintln(stdout, "allocated", len(keep))
		return waitForSignal()
	case "spam":
		// spam N: write N lines of 1 KiB, then sleep (log rotation tests).
		n := 1000
		if len(args) > 0 {
			n, _ = strconv.Atoi(args[0])
		}
		line := strings.Repeat("x", 1023) + "\n"
		for i := 0; i < n; i++ {
			_, _ = io.WriteString(stdout, line)
		}
		fmt.Fprintln(stdout, "spam done")
		return waitForSignal()
	case "hang":
		// hang: ignore SIGTERM and SIGINT; only SIGKILL ends it (grace period tests).
		signal.Ignore(syscall.SIGTERM, syscall.SIGINT)
		fmt.Fprintln(stdout, "ignoring SIGTERM")
		for {
			time.Sleep(time.Hour)
		}
	case "sleep":
		d := time.Duration(1 << 62)
		if len(args) > 0 {
			if s, err := strconv.ParseFloat(args[0], 64); err == nil {
				d = time.Duration(s * float64(time.Second))
			} else if args[0] != "infinity" {
				d, _ = time.ParseDuration(args[0])
			}
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		select {
		case <-time.After(d):
		case <-sig:
		}
		return 0
	case "echo":
		fmt.Fprintln(stdout, strings.Join(args, " "))
		return 0
	case "cat":
		if len(args) == 0 {
			_, _ = io.Copy(stdout, stdin)
			return 0
		}
		code := 0
		for _, p := range args {
			data, err := os.ReadFile(p)
			if err != nil {
				fmt.Fprintf(stderr, "cat: %v\n", err)
				code = 1
				continue
			}
			_, _ = stdout.Write(data)
		}
		return code
	case "hostname":
		h, _ := os.Hostname()
		fmt.Fprintln(stdout, h)
		return 0
	case "env":
		env := os.Environ()
		sort.Strings(env)
		fmt.Fprintln(stdout, strings.Join(env, "\n"))
		return 0
	case "touch":
		for _, p := range args {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				fmt.Fprintf(stderr, "touch: %v\n", err)
				return 1
			}
			f.Close()
		}
		return 0
	case "rm":
		for _, p := range args {
			if p == "-f" {
				continue
			}
			_ = os.Remove(p)
		}
		return 0
	case "ls":
		dir := "."
		if len(args) > 0 {
			dir = args[len(args)-1]
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			fmt.Fprintf(stderr, "ls: %v\n", err)
			return 1
		}
		for _, e := range entries {
			fmt.Fprintln(stdout, e.Name())
		}
		return 0
	case "id":
		fmt.Fprintf(stdout, "uid=%d gid=%d\n", os.Getuid(), os.Getgid())
		return 0
	case "write":
		if len(args) < 2 {
			return 2
		}
		if err := os.WriteFile(args[0], []byte(strings.Join(args[1:], " ")), 0o644); err != nil {
			fmt.Fprintf(stderr, "write: %v\n", err)
			return 1
		}
		return 0
	case "wget":
		if len(args) == 0 {
			return 2
		}
		resp, err := http.Get(args[len(args)-1])
		if err != nil {
			fmt.Fprintf(stderr, "wget: %v\n", err)
			return 1
		}
		defer resp.Body.Close()
		_, _ = io.Copy(stdout, resp.Body)
		return 0
	case "sh":
		return shell(args, stdin, stdout, stderr)
	case "tar":
		return tarTool(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "%s: command not found\n", name)
	return 127
}

// shell runs `sh -c "cmd args"` or reads commands from stdin, one per line,
// printing a prompt when stdin is a terminal.
func shell(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) >= 2 && args[0] == "-c" {
		return line(args[1], stdin, stdout, stderr)
	}
	tty := isTerminal(os.Stdin)
	r := bufio.NewScanner(stdin)
	code := 0
	for {
		if tty {
			fmt.Fprint(stdout, "$ ")
		}
		if !r.Scan() {
			return code
		}
		l := strings.TrimSpace(r.Text())
		if l == "exit" {
			return code
		}
		if l != "" {
			code = line(l, stdin, stdout, stderr)
		}
	}
}

func line(l string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := stdout
	if cmd, file, ok := strings.Cut(l, ">"); ok {
		f, err := os.Create(strings.TrimSpace(file))
		if err != nil {
			fmt.Fprintf(stderr, "sh: %v\n", err)
			return 1
		}
		defer f.Close()
		l, out = cmd, f
	}
	fields := strings.Fields(l)
	if len(fields) == 0 {
		return 0
	}
	return run(filepath.Base(fields[0]), fields[1:], stdin, out, stderr)
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// serve answers HTTP on $PORT (default 8080):
//
//	/          "hostname: <name>"
//	/healthz   200, or 500 once /tmp/unhealthy exists
//	/ready     200, or 503 once /tmp/unready exists
//	/env?name= the variable's value
//	/file?path= the file's content
//	/get?url=  the body fetched from url (e.g. a sibling container on localhost)
//
// and, with --grpc-port=N, the gRPC health service on N (see serveGRPCHealth).
func serve(args []string, stdout io.Writer) int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	for _, a := range args {
		if p, ok := strings.CutPrefix(a, "--port="); ok {
			port = p
		}
		if p, ok := strings.CutPrefix(a, "--grpc-port="); ok {
			if err := serveGRPCHealth(p, stdout); err != nil {
				fmt.Fprintln(stdout, err)
				return 1
			}
		}
	}
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(stdout, "%s %s\n", r.Method, r.URL.Path)
		fmt.Fprintf(w, "hostname: %s\n", host)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if _, err := os.Stat("/tmp/unhealthy"); err == nil {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if _, err := os.Stat("/tmp/unready"); err == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		data, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		_, _ = w.Write(data)
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(r.URL.Query().Get("url"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})
	fmt.Fprintf(stdout, "listening on :%s\n", port)
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		fmt.Fprintln(stdout, "shutting down")
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(stdout, err)
		return 1
	}
	return 0
}

// tarTool implements what `kubectl cp` runs: `tar cf - PATH...` and
// `tar [--no-same-permissions --no-same-owner] -xmf - [-C DIR]`.
func tarTool(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	create, extract, dir := false, false, "."
	var paths []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-C" && i+1 < len(args):
			dir = args[i+1]
			i++
		case strings.HasPrefix(a, "--"):
		case a == "-":
		case strings.HasPrefix(a, "-") || (i == 0 && !strings.Contains(a, "/")):
			create = create || strings.Contains(a, "c")
			extract = extract || strings.Contains(a, "x")
		default:
			paths = append(paths, a)
		}
	}
	switch {
	case create:
		tw := tar.NewWriter(stdout)
		for _, root := range paths {
			err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
				if err != nil {
					return err
				}
				hdr, err := tar.FileInfoHeader(info, "")
				if err != nil {
					return err
				}
				hdr.Name = strings.TrimPrefix(p, "/")
				if err := tw.WriteHeader(hdr); err != nil {
					return err
				}
				if info.Mode().IsRegular() {
					f, err := os.Open(p)
					if err != nil {
						return err
					}
					defer f.Close()
					_, err = io.Copy(tw, f)
					return err
				}
				return nil
			})
			if err != nil {
				fmt.Fprintf(stderr, "tar: %v\n", err)
				return 1
			}
		}
		if err := tw.Close(); err != nil {
			return 1
		}
		return 0
	case extract:
		tr := tar.NewReader(stdin)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				return 0
			}
			if err != nil {
				fmt.Fprintf(stderr, "tar: %v\n", err)
				return 1
			}
			target := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
			switch hdr.Typeflag {
			case tar.TypeDir:
				_ = os.MkdirAll(target, 0o755)
			case tar.TypeReg:
				_ = os.MkdirAll(filepath.Dir(target), 0o755)
				f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&0o777)
				if err != nil {
					fmt.Fprintf(stderr, "tar: %v\n", err)
					return 1
				}
				_, err = io.Copy(f, tr)
				f.Close()
				if err != nil {
					return 1
				}
			}
		}
	}
	fmt.Fprintln(stderr, "tar: need -c or -x")
	return 2
}

// waitForSignal blocks until SIGTERM or SIGINT (a bare select{} would be a
// deadlock for the Go runtime when no other goroutine exists).
func waitForSignal() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	return 0
}
