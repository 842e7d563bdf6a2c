// Package signaling is the stateless signal gateway (`atrium signal`): it validates a
// client's token, finds the node that owns the room, and proxies the WebSocket there. It
// imports no sfu package; what it shares with SFU nodes (token checks, signal framing,
// membership, placement) lives in pkg/.
package signaling
