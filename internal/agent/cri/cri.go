// Package cri connects the agent to a container runtime through the
// Container Runtime Interface (k8s.io/cri-api v1) over a unix socket.
package cri

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxMsgSize matches the kubelet's limit: ListContainers on a busy node is large.
const maxMsgSize = 16 << 20

// Client holds the runtime and image services of one CRI endpoint.
type Client struct {
	criapi.RuntimeServiceClient
	Images criapi.ImageServiceClient
	conn   *grpc.ClientConn
}

// Dial connects to endpoint ("unix:///path" or a bare path) and waits until
// the runtime answers Version.
func Dial(ctx context.Context, endpoint string) (*Client, error) {
	target := endpoint
	if !strings.Contains(target, "://") {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("CRI endpoint %s: %w", endpoint, err)
	}
	c := &Client{
		RuntimeServiceClient: criapi.NewRuntimeServiceClient(conn),
		Images:               criapi.NewImageServiceClient(conn),
		conn:                 conn,
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		vctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Version(vctx, &criapi.VersionRequest{})
		cancel()
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			conn.Close()
			return nil, fmt.Errorf("CRI endpoint %s does not answer: %w", endpoint, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
