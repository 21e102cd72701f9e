package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/server"
)

// componentOptions are the `skiff server` flags its in-process components read.
type componentOptions struct {
	disableAgent bool
	nodeGrace    time.Duration
	nodeName     string
	agentPort    int
	// clusterCIDR is split into the nodes' pod CIDRs; podBridge is this
	// machine's pod network bridge.
	clusterCIDR, podBridge string
}

// serverComponents lists what runs inside `skiff server` next to the API server.
func serverComponents(o componentOptions) []server.Component {
	cs := []server.Component{{
		Name: "controller-manager",
		Run: func(ctx context.Context, env server.Env) error {
			return manager.Run(ctx, env.Config, manager.Options{NodeMonitorGracePeriod: o.nodeGrace, ClusterCIDR: o.clusterCIDR})
		},
	}}
	if !o.disableAgent {
		cs = append(cs, server.Component{
			Name: "agent",
			Run: func(ctx context.Context, env server.Env) error {
				return agent.Run(ctx, agent.Options{RESTConfig: env.Config, Token: env.Token, DataDir: filepath.Join(env.DataDir, "agent"),
					NodeIP: env.HostIP, NodeName: o.nodeName, ListenPort: o.agentPort, ClusterCIDR: o.clusterCIDR, BridgeName: o.podBridge})
			},
		})
	}
	return cs
}
