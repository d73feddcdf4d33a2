package work

import (
	"sync"
	"sync/atomic"
	"time"
)

// Waiter is one connection's `wait` in an event-loop model whose library
// can wake a connection from another goroutine (gnet's Conn.Wake, evio's
// Conn.Wake): a runtime timer, reused for every request of the connection
// so a wait allocates nothing here, whose expiry marks the wait done and
// calls wake; the loop then writes the reply. Stop, called when the
// connection closes (on its loop, before the library closes its poller),
// guarantees wake is never called afterwards, so a late timer cannot poke
// a poller whose descriptor was closed and perhaps reused.
type Waiter struct {
	mu      sync.Mutex
	stopped bool
	done    atomic.Bool
	t       *time.Timer
	wake    func()
}

// NewWaiter returns an idle Waiter that calls wake (from the timer's
// goroutine) when a wait started by Start has elapsed.
func NewWaiter(wake func()) *Waiter {
	w := &Waiter{wake: wake}
	w.t = time.AfterFunc(time.Hour, w.fire)
	w.t.Stop()
	return w
}

// Start begins a wait of d; Done reports false until it has elapsed.
func (w *Waiter) Start(d time.Duration) {
	w.done.Store(false)
	w.t.Reset(d)
}

// Done reports whether the wait started last has elapsed.
func (w *Waiter) Done() bool { return w.done.Load() }

// Stop cancels a pending wait for good: wake is not called after Stop
// returns.
func (w *Waiter) Stop() {
	w.mu.Lock()
	w.stopped = true
	w.t.Stop()
	w.mu.Unlock()
}

func (w *Waiter) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.done.Store(true)
	w.wake()
}
