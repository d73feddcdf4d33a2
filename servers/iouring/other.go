//go:build !(linux && (amd64 || arm64))

package iouring

import (
	"context"
	"errors"

	"echobench/servers"
)

// errUnsupported: the ring layout code assumes a little-endian 64-bit
// Linux, and only amd64 and arm64 have been run.
var errUnsupported = errors.New("iouring: the io_uring model is built for Linux on amd64 and arm64 only")

// Probe reports that the model cannot run on this platform.
func Probe() error { return errUnsupported }

// Start refuses: see Probe.
func Start(ctx context.Context, cfg servers.Config) (servers.Server, error) {
	return nil, errUnsupported
}
