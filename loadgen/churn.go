package loadgen

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"echobench/internal/results"
)

// Connection churn: with a connection lifetime (Config.ConnLifetime) every
// worker connection closes after its N-th message and its slot connects
// again at once, through the same dialer as a reconnect after a fault. The
// connects themselves are then a workload: how many per second, how long
// from connect(2) to established and to the first echoed byte, and why
// attempts failed.

// connectStats is what one event loop measured of its connects. A connect
// counts when its attempt started in the window or in the drain after it
// (where a slot only reconnects to finish messages of the window): the
// connects the window's messages needed.
// Who owns it: the loop's goroutine, until the loop has finished.
type connectStats struct {
	established int64
	// connectHist: connect(2) to established; firstByteHist: connect(2) to
	// the first echoed byte of the connection's first message (ns).
	connectHist, firstByteHist *hdrhistogram.Histogram
	failed                     results.ConnectFailures
	overflow, recordErrs       int64
}

func newConnectStats() *connectStats {
	return &connectStats{
		connectHist:   hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs),
		firstByteHist: hdrhistogram.New(results.HistLowestNs, results.HistHighestNs, results.HistSigFigs),
	}
}

// record adds one latency to h, clamped into the histogram's range and
// counted when it overflows, never dropped. Allocation-free.
func (s *connectStats) record(h *hdrhistogram.Histogram, valueNs int64) {
	if valueNs > results.HistHighestNs {
		s.overflow++
	}
	if h.RecordValue(min(max(valueNs, results.HistLowestNs), results.HistHighestNs)) != nil {
		s.recordErrs++
	}
}

// merge adds o's figures to s.
func (s *connectStats) merge(o *connectStats) (dropped int64) {
	s.established += o.established
	s.failed.Refused += o.failed.Refused
	s.failed.Reset += o.failed.Reset
	s.failed.TimedOut += o.failed.TimedOut
	s.failed.PortsExhausted += o.failed.PortsExhausted
	s.failed.Other += o.failed.Other
	s.overflow += o.overflow
	s.recordErrs += o.recordErrs
	return s.connectHist.Merge(o.connectHist) + s.firstByteHist.Merge(o.firstByteHist)
}

// measuresConnects: the connect figures exist only for runs that ask for
// churn, so echo-only records keep their exact shape.
func (c Config) measuresConnects() bool { return c.ConnLifetime > 0 || c.ConnectBurst > 0 }

// connectsFigures merges the workers' connect statistics into the record's
// Connects; nil when the run does not measure connects.
func connectsFigures(cfg Config, workers []*worker, windowS float64) (*results.Connects, []string) {
	if !cfg.measuresConnects() {
		return nil, nil
	}
	all := newConnectStats()
	var dropped int64
	for _, w := range workers {
		if w.cs != nil {
			dropped += all.merge(w.cs)
		}
	}
	c := &results.Connects{
		ConnLifetime: int64(cfg.ConnLifetime),
		Established:  all.established,
		ConnectUs:    results.LatencyOf(all.connectHist),
		FirstByteUs:  results.LatencyOf(all.firstByteHist),
		ConnectHDR:   encodeHist(all.connectHist),
		FirstByteHDR: encodeHist(all.firstByteHist),
		Failed:       all.failed,
		// Read as the window ends, before the connections still open
		// are closed: what the window's churn left.
		TimeWaitSockets: TimeWaitSockets(),
		EphemeralPorts:  int64(EphemeralPorts()),
	}
	if windowS > 0 {
		c.ConnectsPerSec = float64(all.established) / windowS
	}
	return c, connectWarnings("connections", all, dropped)
}

// TimeWaitSockets is the host's TCP sockets in TIME_WAIT, IPv4 and IPv6,
// from /proc/net/sockstat{,6} ("TCP: inuse N orphan N tw N ..."), or -1
// when neither can be read.
func TimeWaitSockets() int64 {
	total, found := int64(0), false
	for _, f := range []string{"/proc/net/sockstat", "/proc/net/sockstat6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, ok := parseTimeWait(string(b)); ok {
			total, found = total+n, true
		}
	}
	if !found {
		return -1
	}
	return total
}

// parseTimeWait reads the tw field of a sockstat file's TCP line (sockstat6
// has none: IPv6 TIME_WAIT sockets are counted in sockstat's).
func parseTimeWait(s string) (int64, bool) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			if f[i] == "tw" {
				n, err := strconv.ParseInt(f[i+1], 10, 64)
				return n, err == nil
			}
		}
	}
	return 0, false
}

// connectWarnings say what the figures of s do not: that the client, not
// the server, ran out of ephemeral ports, and any histogram losses.
func connectWarnings(what string, s *connectStats, dropped int64) []string {
	var ws []string
	if n := s.failed.PortsExhausted; n > 0 {
		ws = append(ws, fmt.Sprintf("%s: %d connects found no free ephemeral port (EADDRNOTAVAIL): the client's limit, not the server's; spread sources with --source-ips or lower the churn", what, n))
	}
	if s.overflow > 0 {
		ws = append(ws, fmt.Sprintf("%s: %d connect latencies above %d s recorded at the top of the range", what, s.overflow, results.HistHighestNs/1e9))
	}
	if lost := dropped + s.recordErrs; lost > 0 {
		ws = append(ws, fmt.Sprintf("%s: connect histograms lost %d values", what, lost))
	}
	return ws
}

// encodeHist is h, V2 compressed and base64, or "" for an empty one.
func encodeHist(h *hdrhistogram.Histogram) string {
	if h.TotalCount() == 0 {
		return ""
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(enc)
}

// The worker's side of churn.

// retire closes c's socket after its lifetime's last message finished,
// and queues the slot to connect again after the current batch (an fd
// closed now may be reused by the next socket, so events later in the
// batch must not reach it). After the window a slot only reconnects to
// finish messages it still owes. Hot path: no allocation (pending has
// room for every connection and a slot is queued once per batch).
func (w *worker) retire(c *conn, now int64) {
	w.closeSocket(c)
	c.state = stDown
	c.retryAtNs = now
	c.connectFails = 0
	if w.wantsConn(c, now) {
		w.pending = append(w.pending, c)
	}
}

// lifetimeOver: c has finished every message its socket may carry.
func (w *worker) lifetimeOver(c *conn) bool {
	return w.lifetime > 0 && c.doneSeq-c.baseSeq >= w.lifetime
}

// noteEstablished records a connect that succeeded at now, when its
// attempt started in the window or its drain, and arms the first-byte
// measurement.
func (w *worker) noteEstablished(c *conn, now int64) {
	c.awaitFirstByte = false
	if w.cs == nil || !w.started || c.connectStartNs < w.windowStartNs {
		return
	}
	w.cs.established++
	w.cs.record(w.cs.connectHist, now-c.connectStartNs)
	c.awaitFirstByte = true
	c.establishedNs, c.firstSendNs = now, 0
}

// noteFirstByte records the first echoed byte of a connection whose connect
// was counted: connect(2) to established, plus first send to first echoed
// byte. The open loop's wait between the two for its next due message is
// the client's schedule, not the server's doing, and is left out; in closed
// loop the first send follows the connect at once and this is simply
// connect(2) to the first echoed byte.
func (w *worker) noteFirstByte(c *conn, now int64) {
	c.awaitFirstByte = false
	fromSendNs := now - c.firstSendNs
	if c.firstSendNs == 0 {
		fromSendNs = now - c.establishedNs
	}
	w.cs.record(w.cs.firstByteHist, c.establishedNs-c.connectStartNs+fromSendNs)
}

// noteConnectFailure counts a failed attempt under its cause, with the
// same rule as conn_failed (set-up and window, not warm-up).
func (w *worker) noteConnectFailure(now int64, err error) {
	if w.cs != nil && (!w.started || now >= w.windowStartNs) {
		addConnectFailure(&w.cs.failed, err)
	}
}

// writeChurnSummary adds the connect figures and the burst to the readable
// summary.
func writeChurnSummary(b *strings.Builder, l *results.Load) {
	if c := l.Connects; c != nil {
		fmt.Fprintf(b, "  connects   lifetime %d msgs  %d in the window (%.0f/s)  failed: refused %d  reset %d  timed out %d  ports exhausted (client) %d  other %d\n",
			c.ConnLifetime, c.Established, c.ConnectsPerSec, c.Failed.Refused, c.Failed.Reset, c.Failed.TimedOut, c.Failed.PortsExhausted, c.Failed.Other)
		writeConnectLatency(b, c.ConnectUs, c.FirstByteUs)
	}
	if u := l.Burst; u != nil {
		fmt.Fprintf(b, "  burst      %d conns  echoed %d in %.3f s  echo failed %d  connect failed: refused %d  reset %d  timed out %d  ports exhausted (client) %d  other %d\n",
			u.Conns, u.Echoed, u.DurationS, u.EchoFailed, u.Failed.Refused, u.Failed.Reset, u.Failed.TimedOut, u.Failed.PortsExhausted, u.Failed.Other)
		writeConnectLatency(b, u.ConnectUs, u.FirstByteUs)
	}
}

func writeConnectLatency(b *strings.Builder, connect, firstByte results.Latency) {
	for _, x := range []struct {
		name string
		lat  results.Latency
	}{{"connect", connect}, {"first byte", firstByte}} {
		fmt.Fprintf(b, "    %-10s µs p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
			x.name, x.lat.P50, x.lat.P90, x.lat.P99, x.lat.P999, x.lat.Max)
	}
}
