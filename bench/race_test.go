//go:build race

package bench

// raceEnabled: the race detector slows WebRTC joins about tenfold, too much for the
// in-process cluster acceptance run (27 participants, 3 nodes and a gateway in one process).
const raceEnabled = true
