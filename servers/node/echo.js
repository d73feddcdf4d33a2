// Echo server on Node.js's net module: one event loop, a Socket per connection.
//
// Written as Node's net documentation writes it: socket.pipe(socket). pipe is
// Node's own backpressure: when write() returns false (the writable buffer is
// above its high-water mark, --max-pending here) the socket stops reading until
// 'drain'. When the client half-closes, pipe ends the writable side after the
// last byte, so everything received is echoed before the FIN.
//
// Usage: node echo.js [--addr 127.0.0.1:0] [--max-pending BYTES] [--loops 1]
// Prints "LISTENING host:port" on stdout once listening; logs go to stderr;
// SIGTERM or SIGINT closes every connection and exits 0.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const { parseArgs } = require('node:util');

const DEFAULT_MAX_PENDING = 4 << 20;

function usage(msg) {
  process.stderr.write(`echo.js: ${msg}\nusage: node echo.js [--addr HOST:PORT] [--max-pending BYTES] [--loops 1]\n`);
  process.exit(2);
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
      },
      strict: true,
    }));
  } catch (err) {
    usage(err.message);
  }
  if (values.loops !== '1') {
    usage(`--loops ${values.loops}: this server runs a single event loop; run several processes instead`);
  }
  const { host, port } = splitAddr(values.addr);
  const maxPending = Number(values['max-pending']);
  if (!Number.isInteger(maxPending) || maxPending < 1) {
    usage(`--max-pending must be a whole number of bytes >= 1, got ${values['max-pending']}`);
  }
  return { host, port, maxPending, loops: 1 };
}

function main() {
  const { host, port, maxPending } = parseContract(process.argv.slice(2));

  const live = new Set();
  const server = net.createServer({
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
    socket.pipe(socket);
  });
  server.on('error', (err) => {
    process.stderr.write(`echo.js: ${err.message}\n`);
    process.exit(1);
  });

  const stop = () => {
    server.close();
    for (const socket of live) socket.destroy();
    // With the listener and every socket closed nothing keeps the loop
    // alive, so the process exits 0 on its own.
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  server.listen({ host, port, backlog: listenBacklog() }, () => {
    let { address, port: bound } = server.address();
    if (address.includes(':')) address = `[${address}]`;
    process.stdout.write(`LISTENING ${address}:${bound}\n`);
  });
}

if (require.main === module) {
  main();
} else {
  module.exports = { parseContract };
}
