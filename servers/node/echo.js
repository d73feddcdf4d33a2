// Echo server on Node.js's net module: one event loop, a Socket per connection.
//
// Written as Node's net documentation writes it: socket.pipe(socket). pipe is
// Node's own backpressure: when write() returns false (the writable buffer is
// above its high-water mark, --max-pending here) the socket stops reading until
// 'drain'. When the client half-closes, pipe ends the writable side after the
// last byte, so everything received is echoed before the FIN.
//
// With --work (issue #14) pipe is not enough: serveWork frames the stream into
// requests of --request-size bytes and serves them in order, one at a time,
// the way a Node handler is written: `wait` is a setTimeout whose callback
// writes the reply (the loop serves other sockets meanwhile), `cpu` a busy
// loop on process.hrtime.bigint(), `block` Atomics.wait on a
// SharedArrayBuffer, a synchronous sleep that stalls the one loop.
//
// With --procs N > 1 it runs as a cluster (node:cluster, Node's production
// idiom for several cores): this process is the primary, which serves
// nothing itself, and N workers run the server below. The primary accepts
// and hands each connection to the next worker in turn (SCHED_RR; Node 20
// has no SO_REUSEPORT listen option, it arrived in 22.12), prints LISTENING
// once every worker listens, ends them at SIGTERM, and exits non-zero if one
// dies first. A worker whose primary dies exits at once: its IPC channel
// closes, and Node's cluster code exits the worker on that.
//
// Usage: node echo.js [--addr 127.0.0.1:0] [--max-pending BYTES] [--loops 1]
//                     [--work SPEC] [--request-size BYTES] [--procs N]
// Prints "LISTENING host:port" on stdout once listening; logs go to stderr;
// SIGTERM or SIGINT closes every connection and exits 0.
'use strict';

const cluster = require('node:cluster');
const fs = require('node:fs');
const net = require('node:net');
const { parseArgs } = require('node:util');

const DEFAULT_MAX_PENDING = 4 << 20;
// Bound of --procs, the same as Go's servers.MaxProcs.
const MAX_PROCS = 256;
// How long the primary waits for its workers after SIGTERM before it kills
// them: the contract is an exit within 2 s.
const STOP_GRACE_MS = 1500;
// Bounds of the work contract: a request is at most 16 MiB, a mean at most 10 s.
const MAX_REQUEST_SIZE = 16 << 20;
const MAX_MEAN_NS = 10n * 1000n * 1000n * 1000n;

function usage(msg) {
  process.stderr.write(`echo.js: ${msg}\nusage: node echo.js [--addr HOST:PORT] [--max-pending BYTES] [--loops 1] [--work SPEC] [--request-size BYTES] [--procs N]\n`);
  process.exit(2);
}

// ---- Work per request: the grammar, bounds and draws of Go's servers/work.

// One unsigned decimal number and one unit: Go's time.ParseDuration
// restricted as servers/work does.
const MEAN_RE = /^([0-9]+)(?:\.([0-9]+))?(ns|us|µs|ms|s)$/;
const UNIT_NS = { ns: 1n, us: 1000n, 'µs': 1000n, ms: 1000000n, s: 1000000000n };
const INT64_MAX = (1n << 63n) - 1n;

// parseMean reads a MEAN in nanoseconds (a BigInt) exactly as Go's
// time.ParseDuration does, including its float64 arithmetic for the
// fraction, or returns an error message.
function parseMean(m) {
  const match = MEAN_RE.exec(m);
  if (match === null) {
    return { err: `bad mean ${JSON.stringify(m)} (want a number and one unit of ns, us, µs, ms, s, e.g. 20us or 1.5ms)` };
  }
  const [, whole, frac, unitName] = match;
  const unit = UNIT_NS[unitName];
  const outOfRange = { err: `bad mean ${JSON.stringify(m)} (out of range)` };
  let v = BigInt(whole);
  if (v > (1n << 63n) / unit) return outOfRange;
  v *= unit;
  if (frac !== undefined) {
    // Go's leadingFraction: digits past int64's precision are dropped.
    let f = 0n;
    let scale = 1;
    for (const c of frac) {
      if (f > INT64_MAX / 10n) break;
      const y = f * 10n + BigInt(c);
      if (y > INT64_MAX) break;
      f = y;
      scale *= 10;
    }
    v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
    if (v > 1n << 63n) return outOfRange;
  }
  if (v > INT64_MAX) return outOfRange;
  if (v <= 0n || v > MAX_MEAN_NS) {
    return { err: `mean ${JSON.stringify(m)} out of range (want > 0 and <= 10s)` };
  }
  return { ns: v };
}

// parseWork parses a --work SPEC into { kind, meanNs (a Number), dist }, or
// exits 2 naming --work, the value and the part that is wrong.
function parseWork(text) {
  if (text === 'none') return { kind: 'none', meanNs: 0, dist: 'fixed' };
  const bad = (reason) => usage(`--work ${JSON.stringify(text)}: ${reason}`);
  const parts = text.split(':');
  if (parts.length < 2 || parts.length > 3) {
    bad('want none, KIND:MEAN or KIND:MEAN:DIST (e.g. cpu:20us, wait:1ms:exp)');
  }
  const kind = parts[0];
  if (!['cpu', 'wait', 'block'].includes(kind)) {
    bad(`unknown kind ${JSON.stringify(kind)} (want cpu, wait or block)`);
  }
  const { ns, err } = parseMean(parts[1]);
  if (err !== undefined) bad(err);
  const dist = parts.length === 3 ? parts[2] : 'fixed';
  if (dist !== 'fixed' && dist !== 'exp') {
    bad(`unknown distribution ${JSON.stringify(dist)} (want fixed or exp)`);
  }
  return { kind, meanNs: Number(ns), dist };
}

// formatDuration is Go's time.Duration.String for 0 <= ns < 1 min.
function formatDuration(ns) {
  if (ns === 0) return '0s';
  let digits = 9;
  let unit = 's';
  if (ns < 1000) [digits, unit] = [0, 'ns'];
  else if (ns < 1e6) [digits, unit] = [3, 'µs'];
  else if (ns < 1e9) [digits, unit] = [6, 'ms'];
  const pow = 10 ** digits;
  const whole = Math.floor(ns / pow);
  const frac = String(ns % pow).padStart(digits, '0').replace(/0+$/, '');
  return `${whole}${frac === '' || digits === 0 ? '' : `.${frac}`}${unit}`;
}

// workString is the canonical form Go's Spec.String prints.
function workString(w) {
  if (w.kind === 'none') return 'none';
  return `${w.kind}:${formatDuration(w.meanNs)}${w.dist === 'exp' ? ':exp' : ''}`;
}

const GOLDEN = 0x9E3779B97F4A7C15n;

// Draws is one connection's request durations in nanoseconds: the mean, or
// SplitMix64 exponential draws seeded from the connection's ordinal, the same
// stream as Go's work.Rand (servers/work/testdata/vectors.json checks it).
class Draws {
  constructor(ordinal, meanNs, exp) {
    this.s = BigInt.asUintN(64, BigInt(ordinal) ^ GOLDEN);
    this.meanNs = meanNs;
    this.exp = exp;
  }

  // nextU64 is the next raw SplitMix64 output, a BigInt.
  nextU64() {
    this.s = BigInt.asUintN(64, this.s + GOLDEN);
    let z = this.s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94D049BB133111EBn);
    return z ^ (z >> 31n);
  }

  next() {
    if (!this.exp) return this.meanNs;
    const u = Number(this.nextU64() >> 11n) * 2 ** -53;
    // 1 - u is exact; truncated to a nanosecond as Go's time.Duration does.
    const d = -this.meanNs * Math.log(1 - u);
    return Math.trunc(Math.min(d, 100 * this.meanNs));
  }
}

// splitAddr splits "host:port" or "[v6]:port" as Go's net.SplitHostPort does.
// An empty host means every interface, as in Go; the default is never empty
// because Node binds every interface when given no host.
function splitAddr(addr) {
  const i = addr.lastIndexOf(':');
  if (i < 0) usage(`--addr ${JSON.stringify(addr)}: missing port (want HOST:PORT)`);
  let host = addr.slice(0, i);
  const portText = addr.slice(i + 1);
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
  } else if (host.includes(':')) {
    usage(`--addr ${JSON.stringify(addr)}: an IPv6 host needs brackets, as in [::1]:0`);
  }
  const port = Number(portText);
  if (portText === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    usage(`--addr ${JSON.stringify(addr)}: bad port ${JSON.stringify(portText)}`);
  }
  return { host: host === '' ? undefined : host, port };
}

// listenBacklog is the kernel's maximum accept queue, net.core.somaxconn, as
// Go's net package uses. Node's default is 511: with 1000 clients connecting
// at once a short queue drops SYNs and each dropped connect waits a second.
function listenBacklog() {
  try {
    const n = parseInt(fs.readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
    if (Number.isInteger(n) && n > 0) return Math.min(n, 0xffff);
  } catch {
    // not Linux, or /proc not mounted: keep Node's default
  }
  return 511;
}

// parseContract parses the server contract's flags from argv (without node
// and the script), exiting 2 with a usage message on a bad one. servers/
// external's tests drive it through the argv Go builds from servers.Config.
function parseContract(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        addr: { type: 'string', default: '127.0.0.1:0' },
        'max-pending': { type: 'string', default: String(DEFAULT_MAX_PENDING) },
        // The server contract has --loops; Node's event loop is one thread.
        loops: { type: 'string', default: '1' },
        work: { type: 'string', default: 'none' },
        'request-size': { type: 'string' },
        procs: { type: 'string', default: '1' },
      },
      strict: true,
    }));
  } catch (err) {
    usage(err.message);
  }
  if (values.loops !== '1') {
    usage(`--loops ${values.loops}: this server runs a single event loop; for several, run several processes with --procs N`);
  }
  const { host, port } = splitAddr(values.addr);
  const maxPending = Number(values['max-pending']);
  if (!Number.isInteger(maxPending) || maxPending < 1) {
    usage(`--max-pending must be a whole number of bytes >= 1, got ${values['max-pending']}`);
  }
  const work = parseWork(values.work);
  let requestSize = 0; // unset
  const sizeText = values['request-size'];
  if (sizeText !== undefined) {
    requestSize = Number(sizeText);
    if (!/^[+-]?[0-9]+$/.test(sizeText)) usage(`--request-size: bad number ${JSON.stringify(sizeText)}`);
    if (requestSize < 1) usage(`--request-size must be positive, got ${sizeText}`);
    if (requestSize > MAX_REQUEST_SIZE) {
      usage(`--request-size must be 1..${MAX_REQUEST_SIZE} bytes, got ${sizeText}`);
    }
  }
  if (work.kind !== 'none' && requestSize === 0) {
    usage(`--work ${workString(work)} needs --request-size (the bytes of one request, 1..${MAX_REQUEST_SIZE})`);
  }
  work.requestSize = requestSize;
  const procs = Number(values.procs);
  if (!/^[+-]?[0-9]+$/.test(values.procs) || procs < 1 || procs > MAX_PROCS) {
    usage(`--procs must be 1..${MAX_PROCS}, got ${values.procs}`);
  }
  return { host, port, maxPending, loops: 1, work, procs };
}

// One 4-byte SharedArrayBuffer that nothing ever notifies: Atomics.wait on
// it is a plain synchronous sleep of the main thread (Node allows it there).
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

// block sleeps the thread synchronously for ns: the `block` kind. Re-checked
// against the monotonic clock so the sleep is never shorter than ns.
function block(ns) {
  const deadline = process.hrtime.bigint() + BigInt(ns);
  for (;;) {
    const left = deadline - process.hrtime.bigint();
    if (left <= 0n) return;
    Atomics.wait(sleepCell, 0, 0, Number(left) / 1e6);
  }
}

// spin burns the thread's CPU for ns, reading the monotonic clock: `cpu`.
function spin(ns) {
  const deadline = process.hrtime.bigint() + BigInt(ns);
  while (process.hrtime.bigint() < deadline) {
    // busy
  }
}

// waitAtLeast calls done after ns without holding the loop: `wait`. Node's
// timers count from libuv's cached millisecond clock and can fire up to a
// millisecond early, so the callback re-arms until the monotonic deadline
// has passed. It returns a function that cancels the wait.
function waitAtLeast(ns, done) {
  const deadline = process.hrtime.bigint() + BigInt(ns);
  let timer;
  const arm = () => {
    const left = deadline - process.hrtime.bigint();
    if (left <= 0n) {
      timer = undefined;
      done();
      return;
    }
    timer = setTimeout(arm, Number(left) / 1e6);
  };
  arm();
  return () => clearTimeout(timer);
}

// serveWork serves one socket with --work: the stream is cut into requests of
// work.requestSize bytes, each gets its work, then exactly its bytes are
// written; the next request's work starts once the previous reply is written.
// The socket is paused while its writable buffer is above --max-pending
// (write() returned false, until 'drain') or while max(--max-pending, one
// request) of unserved input is buffered. A trailing partial request at the
// client's half-close is dropped; then the socket ends after the last reply.
function serveWork(socket, work, maxPending, ordinal) {
  const size = work.requestSize;
  const inputCap = Math.max(maxPending, size);
  const draws = new Draws(ordinal, work.meanNs, work.dist === 'exp');
  const chunks = [];
  let buffered = 0;
  let cancelWait;
  let writeBlocked = false;
  let paused = false;
  let ended = false;

  // take removes the first size bytes of input (buffered >= size).
  const take = () => {
    buffered -= size;
    if (chunks[0].length === size) return chunks.shift();
    if (chunks[0].length > size) {
      const req = chunks[0].subarray(0, size);
      chunks[0] = chunks[0].subarray(size);
      return req;
    }
    const req = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < size) {
      const c = chunks[0];
      const k = Math.min(c.length, size - n);
      c.copy(req, n, 0, k);
      n += k;
      if (k === c.length) chunks.shift();
      else chunks[0] = c.subarray(k);
    }
    return req;
  };
  const reply = (req) => {
    if (!socket.write(req)) writeBlocked = true;
  };
  const serve = () => {
    while (cancelWait === undefined && !writeBlocked && buffered >= size) {
      const req = take();
      const ns = draws.next();
      if (work.kind === 'wait') {
        cancelWait = waitAtLeast(ns, () => {
          cancelWait = undefined;
          if (socket.destroyed) return;
          reply(req);
          serve();
        });
        break;
      }
      if (work.kind === 'cpu') spin(ns);
      else block(ns);
      reply(req);
    }
    if (ended) {
      if (cancelWait === undefined && buffered < size && !socket.writableEnded) socket.end();
      return;
    }
    const pause = writeBlocked || buffered >= inputCap;
    if (pause !== paused) {
      paused = pause;
      if (pause) socket.pause();
      else socket.resume();
    }
  };
  socket.on('data', (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    serve();
  });
  socket.on('drain', () => {
    writeBlocked = false;
    serve();
  });
  socket.on('end', () => {
    ended = true;
    serve();
  });
  socket.on('close', () => {
    if (cancelWait !== undefined) cancelWait();
    cancelWait = undefined;
  });
}

// serve runs the echo server of this process: the whole server, or one
// worker of a cluster.
function serve({ host, port, maxPending, work }) {
  let ordinal = 0; // connections accepted by this process, in accept order

  const live = new Set();
  const server = net.createServer({
    // With work, the reply to the last requests may be written after the
    // client's FIN: serveWork ends the socket itself.
    allowHalfOpen: work.kind !== 'none',
    // Sets both the readable and the writable high-water marks of every
    // accepted socket (Node >= 18.17 / 20.1); older Nodes keep 16 KiB.
    highWaterMark: maxPending,
    // Node leaves Nagle on by default; asyncio, trio and Go turn it off.
    noDelay: true,
  }, (socket) => {
    live.add(socket);
    socket.on('close', () => live.delete(socket));
    // A reset is the client's doing and counted by the load generator. An
    // 'error' with no listener would crash the whole server.
    socket.on('error', () => socket.destroy());
    if (work.kind === 'none') socket.pipe(socket);
    else serveWork(socket, work, maxPending, ordinal++);
  });
  server.on('error', (err) => {
    process.stderr.write(`echo.js: ${err.message}\n`);
    process.exit(1);
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return; // a worker gets the group's SIGTERM and the primary's
    stopping = true;
    server.close();
    for (const socket of live) socket.destroy();
    // With the listener and every socket closed nothing keeps the loop
    // alive, so the process exits 0 on its own; a worker's IPC channel
    // would, so a worker disconnects it.
    if (cluster.isWorker) cluster.worker.disconnect();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  server.listen({ host, port, backlog: listenBacklog() }, () => {
    // A worker's primary announces the cluster once every worker listens.
    if (cluster.isWorker) return;
    let { address, port: bound } = server.address();
    if (address.includes(':')) address = `[${address}]`;
    process.stdout.write(`LISTENING ${address}:${bound}\n`);
  });
}

// describeExit says how a worker ended, from the cluster's 'exit' event.
function describeExit(worker, code, signal) {
  const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
  return `worker ${worker.id} (pid ${worker.process.pid}) ${how}`;
}

// primary runs the cluster of procs workers: it forks them, announces
// LISTENING once each has reported listening on the one address, and ends
// them at SIGTERM or SIGINT.
function primary(procs) {
  // Round-robin, set here rather than left to NODE_CLUSTER_SCHED_POLICY:
  // the primary accepts and passes each connection to the next worker, so
  // connections are spread evenly whatever the scheduler does.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const listening = new Map(); // worker id -> "host:port"
  let announced = false;
  let stopping = false;
  let failed = false;
  let live = procs;

  const stopAll = () => {
    if (stopping) return;
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of Object.values(cluster.workers)) {
        process.stderr.write(`echo.js: worker ${w.id} (pid ${w.process.pid}) still ran ${STOP_GRACE_MS} ms after SIGTERM: killed\n`);
        w.process.kill('SIGKILL');
      }
      process.exit(1);
    }, STOP_GRACE_MS).unref();
  };
  cluster.on('listening', (worker, { address, port }) => {
    // No host (every interface) is reported as null; Node binds :: then.
    const host = address ?? '::';
    listening.set(worker.id, `${host.includes(':') ? `[${host}]` : host}:${port}`);
    const addrs = new Set(listening.values());
    if (addrs.size > 1) {
      process.stderr.write(`echo.js: workers listen on different addresses: ${[...addrs].join(', ')}\n`);
      failed = true;
      stopAll();
    } else if (!announced && !stopping && listening.size === procs) {
      announced = true;
      process.stdout.write(`LISTENING ${[...addrs][0]}\n`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    live--;
    if (!stopping) {
      process.stderr.write(`echo.js: ${describeExit(worker, code, signal)} before SIGTERM; stopping the other workers\n`);
      failed = true;
      stopAll();
    } else if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT') {
      // A worker that got the group's SIGTERM and then ours may die of
      // the second: that is a clean end too.
      process.stderr.write(`echo.js: ${describeExit(worker, code, signal)} after SIGTERM\n`);
      failed = true;
    }
    if (live === 0) process.exit(failed ? 1 : 0);
  });
  process.on('SIGTERM', stopAll);
  process.on('SIGINT', stopAll);
  for (let i = 0; i < procs; i++) cluster.fork();
}

function main() {
  const cfg = parseContract(process.argv.slice(2));
  if (cfg.procs > 1 && cluster.isPrimary) primary(cfg.procs);
  else serve(cfg);
}

if (require.main === module) {
  main();
} else {
  module.exports = { parseContract, workString, Draws };
}
