//go:build race

package cluster_test

// raceEnabled: the test binary runs under the race detector.
const raceEnabled = true
