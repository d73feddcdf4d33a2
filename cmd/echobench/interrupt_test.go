package main

import (
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// handlerLog records what an interruptHandler did, in order.
type handlerLog struct {
	mu     sync.Mutex
	calls  []string
	exited chan int
	stderr strings.Builder
}

func (l *handlerLog) note(s string) func() {
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, s)
	}
}

func (l *handlerLog) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

func newHandler(hang time.Duration) (interruptHandler, *handlerLog) {
	l := &handlerLog{exited: make(chan int, 1)}
	return interruptHandler{
		stderr:       &lockedWriter{mu: &l.mu, b: &l.stderr},
		requestStop:  l.note("requestStop"),
		cancel:       l.note("cancel"),
		killChildren: l.note("kill"),
		teardown:     l.note("teardown"),
		exit:         func(status int) { l.exited <- status },
		hangTimeout:  hang,
	}, l
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// The three outcomes of interrupting a run, without a process or a signal:
// one interrupt lets the point finish, two stop at once, and a run that
// hangs after the second makes the command exit 130, children killed and
// the network namespaces removed first.
func TestInterruptHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		signals    int
		runReturns bool // the run returns after the signals
		want       []string
		wantExit   int // 0: must not exit
	}{
		{"none", 0, true, nil, 0},
		{"first finishes the point", 1, true, []string{"requestStop"}, 0},
		{"second stops at once", 2, true, []string{"requestStop", "kill", "cancel"}, 0},
		{"a hang after the second exits", 2, false, []string{"requestStop", "kill", "cancel", "kill", "teardown"}, hangExitStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A run that returns does so long before its hang timeout.
			hang := 100 * time.Millisecond
			if tt.runReturns {
				hang = time.Minute
			}
			h, l := newHandler(hang)
			sigs := make(chan os.Signal, 2)
			done := make(chan struct{})
			returned := make(chan struct{})
			go func() { h.watch(sigs, done); close(returned) }()
			for range tt.signals {
				sigs <- syscall.SIGINT
			}
			// Let the handler act on the signals, then end the run
			// (or not).
			deadline := time.Now().Add(5 * time.Second)
			for len(l.got()) < min(len(tt.want), 3) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if tt.runReturns {
				close(done)
			}
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler did not return")
			}
			if got := l.got(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("calls %v, want %v", got, tt.want)
			}
			select {
			case status := <-l.exited:
				if status != tt.wantExit {
					t.Errorf("exit %d, want %d", status, tt.wantExit)
				}
			default:
				if tt.wantExit != 0 {
					t.Errorf("no exit, want %d", tt.wantExit)
				}
			}
			l.mu.Lock()
			msg := l.stderr.String()
			l.mu.Unlock()
			if tt.signals >= 1 && !strings.Contains(msg, "finishing the current point") ||
				tt.signals >= 2 && !strings.Contains(msg, "stopping now") {
				t.Errorf("stderr %q", msg)
			}
		})
	}
}
