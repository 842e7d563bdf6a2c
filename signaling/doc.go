// Package signaling is the home of LiveKit signal-protocol plumbing shared by the SFU node
// (which terminates /rtc) and the stateless gateway (`atrium signal`, which validates and
// proxies it): subpackage sigconn frames SignalRequest/SignalResponse on a WebSocket, and
// subpackage access verifies tokens and parses the join query. Neither imports a service.
package signaling
