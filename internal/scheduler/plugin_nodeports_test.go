package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestNodePorts(t *testing.T) {
	const reason = "node(s) didn't have free ports for the requested pod ports"
	tests := []struct {
		name     string
		existing []podOpt
		pod      []podOpt
		want     string
	}{
		{name: "no host ports", existing: []podOpt{withHostPort(80, v1.ProtocolTCP, "")}},
		{name: "free port", existing: []podOpt{withHostPort(80, v1.ProtocolTCP, "")}, pod: []podOpt{withHostPort(8080, v1.ProtocolTCP, "")}},
		{name: "same port", existing: []podOpt{withHostPort(80, v1.ProtocolTCP, "")}, pod: []podOpt{withHostPort(80, "", "")}, want: reason},
		{name: "other protocol", existing: []podOpt{withHostPort(53, v1.ProtocolTCP, "")}, pod: []podOpt{withHostPort(53, v1.ProtocolUDP, "")}},
		{name: "different IPs", existing: []podOpt{withHostPort(80, v1.ProtocolTCP, "10.0.0.1")}, pod: []podOpt{withHostPort(80, v1.ProtocolTCP, "10.0.0.2")}},
		{name: "wildcard conflicts with IP", existing: []podOpt{withHostPort(80, v1.ProtocolTCP, "10.0.0.1")}, pod: []podOpt{withHostPort(80, v1.ProtocolTCP, "0.0.0.0")}, want: reason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNodeInfo(testNode("n1", "1", "1Gi", 10, nil), testPod("e", tt.existing...))
			got, _ := runFilter(nodePorts{}, testPod("p", tt.pod...), []*nodeInfo{n}, n)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Removing the pod frees its port.
	n := testNodeInfo(testNode("n1", "1", "1Gi", 10, nil), testPod("e", withHostPort(80, v1.ProtocolTCP, "")))
	n.removePod("uid-e")
	if len(n.usedPorts) != 0 {
		t.Errorf("usedPorts after removal = %v", n.usedPorts)
	}
}
