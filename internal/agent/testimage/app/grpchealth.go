package main

import (
	"fmt"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// serveGRPCHealth answers the standard gRPC health service on port, for
// grpc probes: the server as a whole ("") and service "app" are SERVING,
// service "broken" is NOT_SERVING, any other service is unknown (NotFound).
func serveGRPCHealth(port string, stdout io.Writer) error {
	lis, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return fmt.Errorf("grpc health: %w", err)
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("app", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus("broken", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	fmt.Fprintf(stdout, "grpc health on :%s\n", port)
	go func() { _ = srv.Serve(lis) }()
	return nil
}
