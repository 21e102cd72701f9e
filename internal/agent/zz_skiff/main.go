// Command skiff is a single-binary Kubernetes-compatible cluster: `skiff server` runs the control
// plane (and a node agent), `skiff agent` joins a machine, `skiff kubectl` is kubectl.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Exit(runKubectl(os.Args[2:]))
	}
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
