//go:build race

package netpoll

// raceEnabled: the race detector makes sync.Pool drop a random share of
// what is put back, so netpoll's buffer cache (bytedance/gopkg mcache, a
// set of sync.Pools) allocates where a normal build reuses.
const raceEnabled = true
