//go:build race

package udpbatch

// raceEnabled: the race detector makes sync.Pool (used by x/net's sendmmsg)
// drop items at random, so allocation counts are meaningless.
const raceEnabled = true
