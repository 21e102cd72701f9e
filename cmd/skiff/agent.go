package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/agent/cni"
	"github.com/skiff-sh/skiff/internal/agent/images"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/procmem"
	"github.com/skiff-sh/skiff/internal/simnode"
)

func newAgentCommand() *cobra.Command {
	var opts agent.Options
	var labels string
	var sim simnode.Options
	var simLabels string
	cmd := &cobra.Command{
		Use:   "agent --server URL --token TOKEN",
		Short: "Join this machine to a cluster as a node, or simulate nodes with --simulate N",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ServerURL == "" || opts.Token == "" {
				return fmt.Errorf("--server and --token are required (the token is in the server's <data-dir>/token)")
			}
			ctx, cancel := signalContext()
			defer cancel()
			if sim.Count > 0 {
				l, err := parseLabels(simLabels)
				if err != nil {
					return err
				}
				sim.Labels = l
				cfg, err := joinConfig(ctx, opts.ServerURL, opts.Token)
				if err != nil {
					return err
				}
				return simnode.Run(ctx, cfg, sim)
			}
			l, err := parseLabels(labels)
			if err != nil {
				return err
			}
			opts.Labels = l
			// Joining, starting containerd and the first pod sync take a few seconds.
			go procmem.SettleAfter(ctx, 10*time.Second, klog.Warningf)
			return agent.Run(ctx, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.ServerURL, "server", "", "URL of the skiff server, e.g. https://10.0.0.1:6443")
	f.StringVar(&opts.Token, "token", "", "join token from the server's <data-dir>/token")
	f.StringVar(&opts.DataDir, "data-dir", "/var/lib/skiff/agent", "directory for containerd, pod volumes and logs")
	f.StringVar(&opts.NodeName, "node-name", "", "node name (default: hostname)")
	f.StringVar(&opts.NodeIP, "node-ip", "", "node IP (default: address of the default route's interface)")
	f.StringVar(&opts.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "existing CRI socket (default: start a private containerd)")
	f.IntVar(&opts.ListenPort, "port", 10250, "HTTPS port for logs, exec, attach and port-forward")
	f.StringVar(&opts.ClusterCIDR, "cluster-cidr", cni.DefaultClusterCIDR, "the server's --cluster-cidr: pod traffic leaving it is masqueraded")
	f.StringVar(&opts.BridgeName, "pod-bridge", cni.DefaultBridge, "Linux bridge of this machine's pod network")
	f.StringVar(&labels, "node-labels", "", "labels for the node, k=v,k2=v2")
	f.IntVar(&sim.Count, "simulate", 0, "register N simulated nodes instead of running containers")
	f.StringVar(&sim.NamePrefix, "node-name-prefix", "sim-", "name prefix of simulated nodes")
	f.StringVar(&sim.CPU, "cpu", "4", "CPU capacity of each simulated node")
	f.StringVar(&sim.Memory, "memory", "16Gi", "memory capacity of each simulated node")
	f.StringVar(&sim.Pods, "pods", "110", "pod capacity of each simulated node")
	f.StringVar(&simLabels, "labels", "", "labels of simulated nodes, k=v,k2=v2")
	f.DurationVar(&sim.HeartbeatInterval, "heartbeat-interval", 10*time.Second, "Lease renewal interval of simulated nodes")
	f.DurationVar(&sim.JobPodDuration, "job-pod-duration", time.Second, "how long simulated pods of Jobs run before they succeed")
	return cmd
}

func joinConfig(ctx context.Context, server, token string) (*rest.Config, error) {
	cfg, err := pki.RESTConfigFromToken(ctx, server, token)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = -1, 1000
	cfg.UserAgent = "skiff-agent"
	return cfg, nil
}

func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func newImageCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{Use: "image", Short: "Import and list images in the local agent's containerd"}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", defaultDataDir+"/agent", "data dir of the agent whose containerd to use")
	cmd.AddCommand(&cobra.Command{
		Use: "import FILE.tar...", Short: "Import OCI-layout or docker-archive tarballs", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			for _, f := range args {
				if err := images.Import(ctx, dataDir, f); err != nil {
					return fmt.Errorf("import %s: %w", f, err)
				}
				fmt.Printf("imported %s\n", f)
			}
			return nil
		},
	}, &cobra.Command{
		Use: "ls", Short: "List images", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := signalContext()
			defer cancel()
			list, err := images.List(ctx, dataDir)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "IMAGE\tDIGEST\tSIZE")
			for _, im := range list {
				fmt.Fprintf(tw, "%s\t%s\t%d\n", im.Name, im.Digest, im.Size)
			}
			return tw.Flush()
		},
	})
	return cmd
}
