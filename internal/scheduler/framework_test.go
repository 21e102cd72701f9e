package scheduler

import "testing"

func TestDiagnosisMessage(t *testing.T) {
	tests := []struct {
		name    string
		nodes   int
		reasons [][]string
		post    string
		want    string
	}{
		{name: "one reason", nodes: 3, reasons: [][]string{{"Insufficient cpu"}, {"Insufficient cpu"}, {"Insufficient cpu"}},
			want: "0/3 nodes are available: 3 Insufficient cpu."},
		{name: "sorted histogram", nodes: 3,
			reasons: [][]string{{"node(s) had untolerated taint {key: value}"}, {"Insufficient memory"}, {"Insufficient memory"}},
			want:    "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient memory."},
		{name: "several reasons on one node", nodes: 2, reasons: [][]string{{"Insufficient cpu", "Insufficient memory"}, {"Too many pods"}},
			want: "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods."},
		{name: "with preemption note", nodes: 1, reasons: [][]string{{"Insufficient cpu"}},
			post: "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod",
			want: "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &diagnosis{numNodes: tt.nodes, postFilter: tt.post}
			for _, r := range tt.reasons {
				d.record(&nodeInfo{}, unschedulable(pluginNodeResourcesFit, r...))
			}
			if got := d.message(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	s := &Scheduler{}
	for nodes, want := range map[int]int{10: 10, 99: 99, 100: 100, 200: 100, 1000: 420, 5000: 500, 10000: 500} {
		if got := s.numFeasibleNodesToFind(nodes); got != want {
			t.Errorf("numFeasibleNodesToFind(%d) = %d, want %d", nodes, got, want)
		}
	}
	s.opts.PercentageOfNodesToScore = 100
	if got := s.numFeasibleNodesToFind(1000); got != 1000 {
		t.Errorf("with 100%%: %d", got)
	}
}
