package main

import (
	"os"
	"path/filepath"
	"strings"

	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
)

// runKubectl runs the embedded kubectl, defaulting to the local server's admin kubeconfig unless
// KUBECONFIG or --kubeconfig says otherwise.
func runKubectl(args []string) int {
	if os.Getenv("KUBECONFIG") == "" && !hasKubeconfigFlag(args) {
		dir := os.Getenv("SKIFF_DATA_DIR")
		if dir == "" {
			dir = defaultDataDir
		}
		os.Setenv("KUBECONFIG", filepath.Join(dir, "kubeconfig.yaml"))
	}
	os.Args = append([]string{"kubectl"}, args...)
	cmd := kubectlcmd.NewDefaultKubectlCommand()
	return cli.Run(cmd)
}

func hasKubeconfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return true
		}
	}
	return false
}
