// Package python holds the Python echo servers, one script per framework,
// embedded so the echobench binary can run them from any directory
// (servers/external writes them out to a cache directory first).
//
// Each script follows the server contract in docs/stacks.md and runs under
// Debian's /usr/bin/python3, where the Debian packages of the frameworks are.
package python

import "embed"

// FS holds the scripts at its root: _echo_common.py (flags and the readiness
// line, standard library only) and one echo_<framework>.py per stack.
//
//go:embed *.py
var FS embed.FS
