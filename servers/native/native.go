// Package native holds the C source of c-epoll, echobench's native baseline
// server, embedded so the echobench binary can build it from any directory:
// servers/external compiles it with the system C compiler on first use and
// caches the binary.
//
// The source lives in csrc/ because the go command refuses .c files in a
// package that does not use cgo; this package only embeds it.
package native

import _ "embed"

// SourceName is the file name the source is written out and compiled as.
const SourceName = "echo_epoll.c"

// EchoEpollC is the source of c-epoll: one level-triggered epoll loop that
// honours the server contract (its header comment says how).
//
//go:embed csrc/echo_epoll.c
var EchoEpollC []byte
