package main

import "github.com/skiff-sh/skiff/internal/server"

// components lists what runs inside `skiff server` next to the API server.
func components(disableAgent bool) []server.Component {
	return nil
}
