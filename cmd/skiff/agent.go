package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newAgentCommand() *cobra.Command {
	return &cobra.Command{Use: "agent", Short: "Join this machine to a cluster as a node", RunE: func(cmd *cobra.Command, args []string) error {
		return fmt.Errorf("agent: not wired yet")
	}}
}

func newImageCommand() *cobra.Command {
	return &cobra.Command{Use: "image", Short: "Manage images of the local agent"}
}
