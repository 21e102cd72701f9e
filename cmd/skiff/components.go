package main

import (
	"context"
	"path/filepath"
	"time"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/server"
)

// serverComponents lists what runs inside `skiff server` next to the API server.
func serverComponents(disableAgent bool, nodeGrace time.Duration, nodeName string) []server.Component {
	cs := []server.Component{{
		Name: "controller-manager",
		Run: func(ctx context.Context, env server.Env) error {
			return manager.Run(ctx, env.Config, manager.Options{NodeMonitorGracePeriod: nodeGrace})
		},
	}}
	if !disableAgent {
		cs = append(cs, server.Component{
			Name: "agent",
			Run: func(ctx context.Context, env server.Env) error {
				return agent.Run(ctx, agent.Options{RESTConfig: env.Config, Token: env.Token, DataDir: filepath.Join(env.DataDir, "agent"),
					NodeIP: env.HostIP, NodeName: nodeName})
			},
		})
	}
	return cs
}
