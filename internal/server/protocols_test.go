package server

import (
	"crypto/tls"
	"slices"
	"testing"

	"github.com/skiff-sh/skiff/internal/pki"
)

func TestWithProtocolChoice(t *testing.T) {
	cfg := withProtocolChoice(&tls.Config{MinVersion: tls.VersionTLS12})
	tests := []struct {
		name       string
		serverName string
		want       []string
	}{
		{name: "kubectl by IP", serverName: "", want: []string{"http/1.1", "h2"}},
		{name: "a client by host name", serverName: "kubernetes.default.svc", want: []string{"http/1.1", "h2"}},
		{name: "skiff's multiplexing clients", serverName: pki.MultiplexServerName, want: []string{"h2", "http/1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cfg.GetConfigForClient(&tls.ClientHelloInfo{ServerName: tt.serverName})
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				got = cfg
			}
			if !slices.Equal(got.NextProtos, tt.want) {
				t.Fatalf("NextProtos = %v, want %v", got.NextProtos, tt.want)
			}
			if got.GetConfigForClient != nil && got != cfg {
				t.Fatal("the per-client config must not choose again")
			}
		})
	}
}
