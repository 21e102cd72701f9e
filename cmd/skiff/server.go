package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/agent/cni"
	"github.com/skiff-sh/skiff/internal/server"
)

func newServerCommand() *cobra.Command {
	var opts server.Options
	var endpoint string
	var comp componentOptions
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API server, etcd, scheduler, controllers) and a node agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if endpoint != "" {
				opts.DatastoreEndpoint = strings.Split(endpoint, ",")
			}
			opts.Components = serverComponents(comp)
			ctx, cancel := signalContext()
			defer cancel()
			return server.Run(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data-dir", defaultDataDir, "directory for etcd data, certificates, kubeconfig, token and the agent's data")
	f.IntVar(&opts.HTTPSPort, "https-port", 6443, "port of the HTTPS API server")
	f.StringVar(&opts.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.StringVar(&opts.AdvertiseAddress, "advertise-address", "", "address agents and the kubernetes Service reach this server at (default: first host IPv4)")
	f.StringVar(&endpoint, "datastore-endpoint", "", "external etcd endpoints (comma-separated http://host:port); default: embedded etcd")
	f.BoolVar(&comp.disableAgent, "disable-agent", false, "do not run a node agent on this machine")
	f.StringVar(&comp.nodeName, "node-name", "", "name of this machine's node (default: hostname)")
	f.DurationVar(&comp.nodeGrace, "node-monitor-grace-period", 40*time.Second, "how long a node may miss heartbeats before it is marked Unknown")
	f.StringVar(&comp.clusterCIDR, "cluster-cidr", cni.DefaultClusterCIDR, "pod addresses, split into a /24 per node (agents joining this server take the same flag)")
	f.StringVar(&comp.podBridge, "pod-bridge", cni.DefaultBridge, "Linux bridge of this machine's pod network")
	f.IntVar(&comp.agentPort, "agent-port", 10250, "HTTPS port of this machine's node agent (logs, exec, attach, port-forward)")
	return cmd
}
