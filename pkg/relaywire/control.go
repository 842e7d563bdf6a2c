package relaywire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// Control kinds. A relay node attaches to a room's origin, gets a snapshot, and from then
// on both sides send what changes; the origin is the hub that repeats each relay node's
// news to the others.
const (
	KindAttach      = "attach"      // relay → origin: I serve participants of Room
	KindDetach      = "detach"      // relay → origin: I no longer do
	KindSnapshot    = "snapshot"    // origin → relay: every participant and track of Room
	KindParticipant = "participant" // either way: participants joined, changed or left
	KindData        = "data"        // either way: a data packet to deliver
	KindPull        = "pull"        // relay → origin: the layers of Track this node needs
	KindSpeakers    = "speakers"    // origin → relay: active speakers
	KindClosed      = "closed"      // origin → relay: Room ended (or moved, Moved)
	KindRoom        = "room"        // origin → relay: the room's metadata changed
	KindFeed        = "feed"        // origin → relay: pull media from Feed (the media tree)
	KindAdmin       = "admin"       // origin → relay: a RoomService action on a participant there
)

// Admin actions (KindAdmin).
const (
	ActionRemove = "remove" // disconnect Identity (PARTICIPANT_REMOVED)
	ActionMute   = "mute"   // mute (Muted) or unmute Identity's Track
	ActionUpdate = "update" // Update: proto UpdateParticipantRequest (name, metadata, attributes)
)

// Control is one room-state message on the link. Protobuf payloads (LiveKit's
// ParticipantInfo, DataPacket, SpeakersChanged) are carried as bytes so this package
// depends on no protocol version.
type Control struct {
	Kind string `json:"k"`
	Room string `json:"r"`
	// Origin's room sid and metadata (snapshot).
	RoomSID      string `json:"rs,omitempty"`
	RoomMetadata string `json:"rm,omitempty"`
	// Participants: proto ParticipantInfo each; a DISCONNECTED state means left.
	Participants [][]byte `json:"p,omitempty"`
	// Tracks: the codecs of the tracks in Participants.
	Tracks []TrackCodec `json:"t,omitempty"`
	// Data, Label, Dest, From: a data packet (proto DataPacket), its channel, the
	// identities it is for (empty: everyone) and its sender.
	Data  []byte   `json:"d,omitempty"`
	Label string   `json:"l,omitempty"`
	Dest  []string `json:"dst,omitempty"`
	From  string   `json:"f,omitempty"`
	// Track and Layers: a pull.
	Track  string `json:"tr,omitempty"`
	Layers []int  `json:"ly,omitempty"`
	// Speakers: proto SpeakersChanged.
	Speakers []byte `json:"sp,omitempty"`
	// Moved: the room goes on elsewhere (closed).
	Moved bool `json:"mv,omitempty"`
	// Feed: the node a relay node pulls the room's media from (snapshot, feed): the origin
	// or, in a tree, another relay node. Empty means the origin.
	Feed string `json:"fd,omitempty"`
	// Identity, Action, Muted, Update: an admin action (Track names the track to mute).
	Identity string `json:"id,omitempty"`
	Action   string `json:"act,omitempty"`
	Muted    bool   `json:"mu,omitempty"`
	Update   []byte `json:"up,omitempty"`
}

// TrackCodec is what a relay node needs to receive a track: its codec as the origin
// forwards it.
type TrackCodec struct {
	Sid         string `json:"sid"`
	MimeType    string `json:"mime"`
	ClockRate   uint32 `json:"rate"`
	Channels    uint16 `json:"ch,omitempty"`
	Fmtp        string `json:"fmtp,omitempty"`
	PayloadType uint8  `json:"pt"`
}

// AppendControl appends the plaintext of a control frame.
func AppendControl(dst []byte, c *Control) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("relaywire: encode control: %w", err)
	}
	return append(append(dst, TypeControl), b...), nil
}

// ParseControl decodes a control plaintext.
func ParseControl(b []byte) (*Control, error) {
	if len(b) < 1 || b[0] != TypeControl {
		return nil, ErrMalformed
	}
	c := &Control{}
	if err := json.Unmarshal(b[1:], c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

// WriteRecord writes one sealed frame to a stream, length first.
func WriteRecord(w io.Writer, frame []byte) error {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(frame)))
	if _, err := w.Write(append(n[:], frame...)); err != nil {
		return fmt.Errorf("relaywire: write record: %w", err)
	}
	return nil
}

// ReadRecord reads one sealed frame from a stream.
func ReadRecord(r io.Reader, buf []byte) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > MaxFrame {
		return nil, fmt.Errorf("%w: record of %d bytes", ErrMalformed, size)
	}
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
