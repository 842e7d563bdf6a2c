// Package ids mints the identifiers Atrium shares with LiveKit's protocol: rooms "RM_…",
// participants "PA_…" and tracks "TR_…". SDKs parse the prefix (a downstream track's stream id
// is "PA_sid|TR_sid"), so the prefixes are part of the wire contract.
//
// Ids are random (12 base62 characters, about 71 bits) rather than counters, because they must be
// unique across every node of the cluster without coordination. Safe for concurrent use.
package ids

import (
	"crypto/rand"
	"strings"
)

// Prefixes of each kind of id.
const (
	RoomPrefix        = "RM_"
	ParticipantPrefix = "PA_"
	TrackPrefix       = "TR_"
)

const (
	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	randLen  = 12
)

// NewRoomID returns a fresh "RM_…" id.
func NewRoomID() string { return newID(RoomPrefix) }

// NewParticipantID returns a fresh "PA_…" id.
func NewParticipantID() string { return newID(ParticipantPrefix) }

// NewTrackID returns a fresh "TR_…" id.
func NewTrackID() string { return newID(TrackPrefix) }

// Valid reports whether id has the given prefix followed by base62 characters only.
func Valid(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(alphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}

// StreamID is the stream id of a downstream track: "PA_sid|TR_sid", as LiveKit SDKs expect.
func StreamID(participantSID, trackSID string) string {
	return participantSID + "|" + trackSID
}

func newID(prefix string) string {
	var raw [randLen]byte
	// crypto/rand.Read never returns an error (Go 1.24+); it panics if the OS source fails.
	_, _ = rand.Read(raw[:])
	b := make([]byte, len(prefix)+randLen)
	copy(b, prefix)
	for i, r := range raw {
		// 256 is not a multiple of 62: the bias (at most 4/256 per character) is irrelevant
		// for uniqueness, which is all these ids need.
		b[len(prefix)+i] = alphabet[int(r)%len(alphabet)]
	}
	return string(b)
}
