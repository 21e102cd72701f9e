package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/agent/images"
)

func newAgentCommand() *cobra.Command {
	var opts agent.Options
	var dataDir string
	var labels []string
	cmd := &cobra.Command{Use: "agent", Short: "Join this machine to a cluster as a node", RunE: func(cmd *cobra.Command, args []string) error {
		if opts.ServerURL == "" || opts.Token == "" {
			return fmt.Errorf("--server and --token are required")
		}
		opts.DataDir = filepath.Join(dataDir, "agent")
		opts.Labels = map[string]string{}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			opts.Labels[k] = v
		}
		ctx, cancel := signalContext()
		defer cancel()
		return agent.Run(ctx, opts)
	}}
	f := cmd.Flags()
	f.StringVar(&opts.ServerURL, "server", "", "URL of the skiff server")
	f.StringVar(&opts.Token, "token", "", "join token (the server's <data-dir>/token)")
	f.StringVar(&dataDir, "data-dir", defaultDataDir, "directory for the agent's containerd, pods and logs (under <data-dir>/agent)")
	f.StringVar(&opts.NodeName, "node-name", "", "node name (default: hostname)")
	f.StringVar(&opts.NodeIP, "node-ip", "", "node IP (default: the default route's IPv4 address)")
	f.StringVar(&opts.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "existing CRI socket (default: start a private containerd)")
	f.IntVar(&opts.ListenPort, "port", 10250, "port of the agent's HTTPS server")
	f.StringSliceVar(&labels, "node-label", nil, "node labels (key=value)")
	return cmd
}

func newImageCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{Use: "image", Short: "Manage images of the local agent"}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", defaultDataDir, "data dir of the agent (as given to skiff server/agent)")
	cmd.AddCommand(&cobra.Command{Use: "import FILE...", Short: "Import OCI or docker-archive tarballs", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, f := range args {
				if err := images.Import(cmd.Context(), filepath.Join(dataDir, "agent"), f); err != nil {
					return err
				}
			}
			return nil
		}})
	cmd.AddCommand(&cobra.Command{Use: "ls", Short: "List images", RunE: func(cmd *cobra.Command, args []string) error {
		list, err := images.List(cmd.Context(), filepath.Join(dataDir, "agent"))
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "IMAGE\tDIGEST\tSIZE")
		for _, i := range list {
			fmt.Fprintf(w, "%s\t%s\t%.1fMB\n", i.Name, i.Digest[:19], float64(i.Size)/1e6)
		}
		return w.Flush()
	}})
	return cmd
}
