package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/agent"
	"github.com/skiff-sh/skiff/internal/server"
)

func main() {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	dir := os.Args[1]
	err := server.Run(ctx, server.Options{DataDir: dir, HTTPSPort: 27443, Components: []server.Component{
		{Name: "cidr", Run: func(ctx context.Context, env server.Env) error {
			c := kubernetes.NewForConfigOrDie(env.Config)
			for ctx.Err() == nil {
				nodes, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
				if err == nil {
					for i := range nodes.Items {
						n := &nodes.Items[i]
						if n.Spec.PodCIDR == "" {
							n.Spec.PodCIDR = fmt.Sprintf("10.42.%d.0/24", i)
							_, err = c.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
							fmt.Println("assigned cidr", n.Name, err)
						}
					}
				}
				time.Sleep(200 * time.Millisecond)
			}
			return nil
		}},
		{Name: "agent", Run: func(ctx context.Context, env server.Env) error {
			return agent.Run(ctx, agent.Options{RESTConfig: env.Config, Token: env.Token, DataDir: filepath.Join(dir, "agent"), NodeIP: env.HostIP})
		}},
	}})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}
