package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	_ "unsafe" // for go:linkname, below

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"

	"github.com/skiff-sh/skiff/internal/server"
)

// kubectl reports its own version from variables of k8s.io/component-base/version that upstream's
// release builds set with -ldflags -X. A plain `go build` leaves placeholders there, which
// `kubectl version` cannot parse: it printed v0.0.0-master and exited 1. skiff sets them at run
// time instead, so every build of skiff (go build, go install, the hack scripts) reports the
// version of the kubectl it embeds, which is the Kubernetes version the server reports.
//
//go:linkname kubectlGitMajor k8s.io/component-base/version.gitMajor
var kubectlGitMajor string

//go:linkname kubectlGitMinor k8s.io/component-base/version.gitMinor
var kubectlGitMinor string

//go:linkname kubectlGitTreeState k8s.io/component-base/version.gitTreeState
var kubectlGitTreeState string

//go:linkname kubectlGitVersion k8s.io/component-base/version.dynamicGitVersion
var kubectlGitVersion atomic.Value

func setKubectlVersion() {
	kubectlGitMajor, kubectlGitMinor = server.VersionMajor, server.VersionMinor
	kubectlGitTreeState = "clean"
	kubectlGitVersion.Store(server.Version)
}

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
	setKubectlVersion()
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
