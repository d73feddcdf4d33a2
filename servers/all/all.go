// Package all is the registry of the Go server models: one line per model.
package all

import "echobench/servers"

// Models is every Go model that `echobench serve` can start.
var Models = servers.Registry{
	// One line per model, e.g.:
	// "epoll": {Name: "epoll", Doc: "...", Start: epoll.Start},
}
