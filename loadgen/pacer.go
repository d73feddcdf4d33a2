package loadgen

// Pacer is the open loop's schedule: a pure function of the start time, the
// total rate and the connection count. Message m of connection c is the
// (m*Conns + c)-th message overall and is intended at
// StartNs + (m*Conns + c) / RateMsgsPerSec seconds, so the total rate is
// spread evenly over the connections and over time. Nothing here reads a
// clock, so it is table-tested exactly.
type Pacer struct {
	StartNs        int64
	RateMsgsPerSec float64
	Conns          int
}

// Intended returns the intended send time (ns) of message m of connection
// conn. It is non-decreasing in the global index m*Conns+conn.
func (p Pacer) Intended(conn int, m int64) int64 {
	g := m*int64(p.Conns) + int64(conn)
	return p.StartNs + int64(float64(g)*1e9/p.RateMsgsPerSec)
}

// CountBefore returns how many of conn's messages have an intended time
// strictly before t: messages 0..CountBefore-1.
func (p Pacer) CountBefore(conn int, t int64) int64 {
	if t <= p.StartNs {
		return 0
	}
	// Estimate from the inverse, then step to the exact boundary: the float
	// inverse can be off by one either way.
	g := float64(t-p.StartNs) * p.RateMsgsPerSec / 1e9
	m := int64((g-float64(conn))/float64(p.Conns)) + 1
	if m < 0 {
		m = 0
	}
	if g > 1<<52 {
		return m // beyond any real run (and Intended's int64 range): no exact step
	}
	for m > 0 && p.Intended(conn, m-1) >= t {
		m--
	}
	for p.Intended(conn, m) < t {
		m++
	}
	return m
}

// Due returns how many of conn's messages are due at t (intended at or
// before t).
func (p Pacer) Due(conn int, t int64) int64 { return p.CountBefore(conn, t+1) }
