//go:build race

package autograd

// raceEnabled: the race detector allocates as it tracks memory, so tests
// that count allocations skip under it.
const raceEnabled = true
