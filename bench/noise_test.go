package bench

import (
	"math"
	"testing"

	"echobench/bench/proc"
)

func TestWindowNoise(t *testing.T) {
	t.Parallel()
	at := func(srvTasks, srvTotal, cliTasks, cliTotal, steal, server, client uint64) (proc.Sample, cpuReading) {
		return proc.Sample{UTicks: server, Members: 1},
			cpuReading{ok: true, clientTick: client,
				srv: proc.CPUTimes{Tasks: srvTasks, Total: srvTotal, Steal: steal},
				cli: proc.CPUTimes{Tasks: cliTasks, Total: cliTotal}}
	}
	tests := []struct {
		name             string
		srv, cli         []int
		end              [7]uint64 // deltas from zero: srvTasks srvTotal cliTasks cliTotal steal server client
		wantSrv, wantCli float64
		wantSteal        float64
		disturbed        bool
	}{
		// The server used 95 of 100 ticks of CPU 0 and the tasks column says
		// 97: 2% is someone else's.
		{"quiet", []int{0}, []int{1}, [7]uint64{97, 100, 90, 100, 0, 95, 88}, 0.02, 0.02, 0, false},
		{"neighbour on the server cpu", []int{0}, []int{1}, [7]uint64{99, 100, 90, 100, 0, 60, 88}, 0.39, 0.02, 0, true},
		{"neighbour on the client cpu", []int{0}, []int{1}, [7]uint64{95, 100, 100, 100, 0, 95, 70}, 0, 0.30, 0, true},
		{"steal", []int{0}, []int{1}, [7]uint64{80, 100, 80, 100, 30, 80, 80}, 0, 0, 0.15, true},
		// Tick rounding can make ours exceed the tasks column: never negative.
		{"rounding", []int{0}, []int{1}, [7]uint64{94, 100, 90, 100, 0, 95, 91}, 0, 0, 0, false},
		// Shared CPUs: the union's share, for both.
		// (cpuProbe.read put the union's figures in srv.)
		{"overlapping sets", []int{0, 1}, []int{1}, [7]uint64{180, 200, 180, 200, 0, 100, 50}, 0.15, 0.15, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.end
			w := &window{done: make(chan struct{}), ok: true, cpus: cpuProbe{srvCPUs: tt.srv, cliCPUs: tt.cli}}
			w.s0, w.cpu0 = at(0, 0, 0, 0, 0, 0, 0)
			w.s1, w.cpu1 = at(e[0], e[1], e[2], e[3], e[4], e[5], e[6])
			close(w.done)
			n := w.noise()
			if n == nil {
				t.Fatal("no noise figures")
			}
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if !near(n.ServerCPUsOther, tt.wantSrv) || !near(n.ClientCPUsOther, tt.wantCli) || !near(n.Steal, tt.wantSteal) || n.Disturbed != tt.disturbed {
				t.Fatalf("got %+v; want server %.2f client %.2f steal %.2f disturbed %v", *n, tt.wantSrv, tt.wantCli, tt.wantSteal, tt.disturbed)
			}
		})
	}
	w := &window{done: make(chan struct{}), ok: true}
	close(w.done)
	if w.noise() != nil {
		t.Fatal("noise without CPU readings")
	}
}
