package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/server"
)

// components lists what runs inside `skiff server` next to the API server.
func components(disableAgent bool) []server.Component {
	out := []server.Component{{Name: "cidr", Run: func(ctx context.Context, env server.Env) error {
		c := kubernetes.NewForConfigOrDie(env.Config)
		for ctx.Err() == nil {
			nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err == nil {
				for i := range nodes.Items {
					n := &nodes.Items[i]
					if n.Spec.PodCIDR == "" {
						n.Spec.PodCIDR = fmt.Sprintf("10.42.%d.0/24", i)
						_, _ = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
					}
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		return nil
	}}}
	out = append(out, server.Component{Name: "controllers", Run: func(ctx context.Context, env server.Env) error {
		return manager.Run(ctx, env.Config, manager.Options{})
	}})
	if !disableAgent {
		out = append(out, server.Component{Name: "agent", Run: func(ctx context.Context, env server.Env) error {
			return agent.Run(ctx, agent.Options{RESTConfig: env.Config, Token: env.Token, ServerURL: env.URL, DataDir: filepath.Join(env.DataDir, "agent"), NodeIP: env.HostIP})
		}})
	}
	return out
}
