//go:build race

package modeltest

// RaceEnabled says the race detector is on (see NoAllocsPerRequest).
const RaceEnabled = true
