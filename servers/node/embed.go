// Package node holds the Node.js echo server, embedded so the echobench
// binary can run it from any directory (servers/external writes it out to a
// cache directory first).
package node

import "embed"

// FS holds echo.js at its root: a net.Server that pipes each socket to itself.
//
//go:embed echo.js
var FS embed.FS
