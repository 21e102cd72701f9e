package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/server"
)

func newServerCommand() *cobra.Command {
	var opts server.Options
	var endpoint string
	var disableAgent bool
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API server, etcd, scheduler, controllers) and a node agent",
		RunE: func(cmd *cobra.Command, args []string) error {
			if endpoint != "" {
				opts.DatastoreEndpoint = strings.Split(endpoint, ",")
			}
			opts.Components = components(disableAgent)
			ctx, cancel := signalContext()
			defer cancel()
			return server.Run(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.DataDir, "data-dir", defaultDataDir, "directory for etcd data, certificates, kubeconfig and token")
	f.IntVar(&opts.HTTPSPort, "https-port", 6443, "port of the HTTPS API server")
	f.StringVar(&opts.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	f.StringVar(&opts.AdvertiseAddress, "advertise-address", "", "address agents and the kubernetes Service reach this server at (default: first host IPv4)")
	f.StringVar(&endpoint, "datastore-endpoint", "", "external etcd endpoints (comma-separated http://host:port); default: embedded etcd")
	f.BoolVar(&disableAgent, "disable-agent", false, "do not run a node agent on this machine")
	return cmd
}
