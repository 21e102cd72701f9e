package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/skiff-sh/skiff/internal/server"
)

const defaultDataDir = "/var/lib/skiff"

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "A Kubernetes-compatible cluster in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newAgentCommand(), newImageCommand(), newVersionCommand(),
		&cobra.Command{Use: "kubectl", Short: "Run kubectl against this cluster (flags are kubectl's)", DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error { os.Exit(runKubectl(args)); return nil }})
	return root
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", RunE: func(cmd *cobra.Command, args []string) error {
		fmt.Printf("skiff %s (Kubernetes API %s)\n", server.Version, server.Version)
		return nil
	}}
}
