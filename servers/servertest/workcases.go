package servertest

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"echobench/servers/work"
)

// The work cases (issue #14): each starts the server with --work and
// --request-size workRequestBytes and checks what the work means for
// latency, concurrency and order. A target runs the cases of the kinds it
// lists in Target.WorkKinds and skips the others, so a stack that does not
// implement work yet is skipped, not failed. Each case takes well under 3 s.

// workRequestBytes is the request size of every work case.
const workRequestBytes = 100

// workCases are appended to cases.
var workCases = []testCase{
	{name: "work-lone-cpu", work: "cpu:2ms", run: caseWorkLone},
	{name: "work-lone-wait", work: "wait:20ms", run: caseWorkLone},
	{name: "work-lone-block", work: "block:20ms", run: caseWorkLone},
	{name: "work-wait-20-conns", work: "wait:50ms", run: caseWorkConcurrent},
	{name: "work-block-20-conns", work: "block:50ms", run: caseWorkConcurrent},
	{name: "work-exp-mean", work: "cpu:2ms:exp", run: caseWorkExpMean},
	{name: "work-pipelined-cpu", work: "cpu:100us:exp", run: caseWorkPipelined},
	{name: "work-pipelined-wait", work: "wait:1ms:exp", run: caseWorkPipelined},
	{name: "work-pipelined-block", work: "block:1ms", run: caseWorkPipelined},
}

// workSpec is the case's --work, parsed; none for the other cases.
func (c testCase) workSpec() work.Spec {
	if c.work == "" {
		return work.Spec{}
	}
	sp, err := work.Parse(c.work)
	if err != nil {
		panic(fmt.Sprintf("servertest: case %s: %v", c.name, err))
	}
	return sp
}

// skipWork reports why target cannot run c, or "".
func skipWork(target Target, c testCase) string {
	k := c.workSpec().Kind
	if k == work.None || slices.Contains(target.WorkKinds, k) {
		return ""
	}
	return fmt.Sprintf("%s does not implement --work %v (its work kinds: %s)", target.Name, k, kindList(target.WorkKinds))
}

// kindList is kinds for a message: "cpu,wait", or "none".
func kindList(kinds []work.Kind) string {
	if len(kinds) == 0 {
		return "none"
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return strings.Join(names, ",")
}

// request writes one request of e's pattern on c and reads its echo,
// returning how long the reply took from the write.
func (e *env) request(c *net.TCPConn, seq int) (time.Duration, error) {
	req := workPayload(seq)
	got := make([]byte, len(req))
	start := time.Now()
	if _, err := c.Write(req); err != nil {
		return 0, fmt.Errorf("write request %d: %w", seq, err)
	}
	if n, err := io.ReadFull(c, got); err != nil {
		return 0, fmt.Errorf("read reply %d: got %d of %d bytes: %w", seq, n, len(req), err)
	}
	el := time.Since(start)
	if err := compareEcho(req, got); err != nil {
		return 0, fmt.Errorf("reply %d: %w", seq, err)
	}
	return el, nil
}

// workPayload is request seq's bytes: distinct per request, so a reply
// out of order shows.
func workPayload(seq int) []byte {
	b := make([]byte, workRequestBytes)
	for i := range b {
		x := seq*workRequestBytes + i
		b[i] = byte(x ^ x>>8 ^ x>>16)
	}
	return b
}

// caseWorkLone: each of 5 sequential requests on one connection takes at
// least its work.
func caseWorkLone(e *env) {
	c := e.mustDial()
	for i := range 5 {
		el, err := e.request(c, i)
		if err != nil {
			e.t.Fatal(err)
		}
		if el < e.spec.Mean {
			e.t.Fatalf("request %d answered after %v, sooner than its --work %v", i, el, e.spec)
		}
	}
}

// caseWorkConcurrent: 20 connections send one request each at once. With
// wait, or with block on a server whose handlers run in parallel, they
// finish in well under 20 works (the server was not stalled); with block on
// a server that serialises (Target.BlockSerializes: one event loop) they
// take at least 0.8 x 20 works.
func caseWorkConcurrent(e *env) {
	const conns = 20
	conn := make([]*net.TCPConn, conns)
	for i := range conn {
		conn[i] = e.mustDial()
	}
	if _, err := e.request(conn[0], 0); err != nil { // the server is up and warm
		e.t.Fatal(err)
	}
	errs := make([]error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conn {
		wg.Go(func() { _, errs[i] = e.request(c, i+1) })
	}
	wg.Wait()
	el := time.Since(start)
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	serial := conns * e.spec.Mean
	e.t.Logf("%d concurrent requests with --work %v took %v (serial: %v)", conns, e.spec, el, serial)
	if e.spec.Kind == work.Block && e.target.BlockSerializes {
		if el < serial*8/10 {
			e.t.Fatalf("%d requests with --work %v took %v, under 0.8 x %v: a blocking handler did not stall this server, whose Target says it serialises", conns, e.spec, el, serial)
		}
		return
	}
	if el > serial/2 {
		e.t.Fatalf("%d requests with --work %v took %v, over half of %v: the server served them one after another", conns, e.spec, el, serial)
	}
}

// caseWorkExpMean: 300 sequential requests with exponential CPU work of
// mean M on the server's first connection, whose draws the contract fixes
// (SplitMix64 seeded with ordinal 0, servers/work). Load on the machine
// only adds latency, so the checks are one-sided where load could move
// them: each request takes at least its own draw (a fixed M, or other
// draws, fail on the long ones), the mean is at least 0.7 M, and, the loose
// upper bound, the median is at most 2 M (an exponential's is 0.69 M): a
// few requests stalled by load cannot move a median.
func caseWorkExpMean(e *env) {
	const n = 300
	m := e.spec.Mean
	c := e.mustDial()
	draws := work.NewRand(0)
	lat := make([]time.Duration, n)
	var sum time.Duration
	for i := range n {
		el, err := e.request(c, i)
		if err != nil {
			e.t.Fatal(err)
		}
		if d := draws.Next(m); el < d {
			e.t.Fatalf("request %d took %v, less than its draw %v (connection ordinal 0, draw %d): the server's exp draws are not the contract's (servers/work/testdata/vectors.json)", i, el, d, i)
		}
		lat[i] = el
		sum += el
	}
	slices.Sort(lat)
	mean, median := sum/n, lat[n/2]
	e.t.Logf("--work %v: mean latency %v, median %v, longest %v over %d requests", e.spec, mean, median, lat[n-1], n)
	if mean < m*7/10 {
		e.t.Fatalf("mean latency %v over %d requests with --work %v, under 0.7 x %v: the work was not done", mean, n, e.spec, m)
	}
	if median > 2*m {
		e.t.Fatalf("median latency %v over %d requests with --work %v, over 2 x %v (an exponential's median is 0.69 x)", median, n, e.spec, m)
	}
}

// caseWorkPipelined: 50 requests written at once come back exact and in
// order; then one and a half requests bring back exactly one, and the
// unfinished half waits until its rest arrives.
func caseWorkPipelined(e *env) {
	const reqs = 50
	c := e.mustDial()
	var all []byte
	for i := range reqs {
		all = append(all, workPayload(i)...)
	}
	if err := echoRoundTrip(c, all); err != nil {
		e.t.Fatalf("%d pipelined requests: %v", reqs, err)
	}
	next := append(workPayload(reqs), workPayload(reqs+1)...)
	half := workRequestBytes + workRequestBytes/2
	if _, err := c.Write(next[:half]); err != nil {
		e.t.Fatal(err)
	}
	got := make([]byte, 2*workRequestBytes)
	if _, err := io.ReadFull(c, got[:workRequestBytes]); err != nil {
		e.t.Fatalf("read the whole request of one and a half: %v", err)
	}
	// Nothing more may come while the second request is unfinished.
	if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		e.t.Fatal(err)
	}
	if n, err := c.Read(got[workRequestBytes:]); n > 0 || err == nil {
		e.t.Fatalf("%d bytes of an unfinished request came back before its rest was sent", n)
	}
	if err := c.SetReadDeadline(e.deadline); err != nil {
		e.t.Fatal(err)
	}
	if _, err := c.Write(next[half:]); err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got[workRequestBytes:]); err != nil {
		e.t.Fatalf("read the finished request: %v", err)
	}
	if err := compareEcho(next, got); err != nil {
		e.t.Fatalf("requests sent in pieces: %v", err)
	}
}
