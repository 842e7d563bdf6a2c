package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
)

// Role is what a member does in the cluster.
type Role string

// Roles a member may announce. A member with any other role is refused.
const (
	RoleSFU    Role = "sfu"
	RoleSignal Role = "signal"
)

// State is whether a member takes new work.
type State string

// States a member may announce. An empty State is read as StateServing.
const (
	StateServing  State = "serving"
	StateDraining State = "draining"
)

// Load is a member's current load, as it reports it. Placement reads it to find the
// node with the most headroom.
type Load struct {
	CPU             float64 `json:"cpu,omitempty"` // fraction of the node's CPU budget in use, 0..1
	PacketsPerSec   float64 `json:"pps,omitempty"` // forwarded media packets per second
	Rooms           int     `json:"rooms,omitempty"`
	Participants    int     `json:"parts,omitempty"`
	Tracks          int     `json:"tracks,omitempty"`
	MaxParticipants int     `json:"maxp,omitempty"` // capacity the operator configured (0 = unknown)
}

// Meta is what a member tells the others about itself. It travels in memberlist's node
// metadata as compact JSON, so its encoding must stay within MaxMetaSize bytes.
type Meta struct {
	NodeID     string   `json:"id"`
	Role       Role     `json:"role"`
	SignalURL  string   `json:"url"`             // base http(s) URL of the node's /rtc and Twirp
	MediaAddrs []string `json:"media,omitempty"` // advertised ICE host:port
	RelayAddr  string   `json:"relay,omitempty"` // relay link host:port (UDP and TCP), docs/relay.md
	State      State    `json:"state,omitempty"`
	Load       Load     `json:"load"`
	Version    string   `json:"ver,omitempty"`
}

// MaxMetaSize is the largest encoded Meta a member may announce (memberlist's limit).
const MaxMetaSize = 512

// ErrInvalidMeta is returned (wrapped) for metadata that is refused, locally or at the door.
var ErrInvalidMeta = errors.New("cluster: invalid member metadata")

// Validate checks m the way every member checks the others' metadata before admitting them.
func (m Meta) Validate() error {
	if m.NodeID == "" {
		return fmt.Errorf("%w: empty NodeID", ErrInvalidMeta)
	}
	switch m.Role {
	case RoleSFU, RoleSignal:
	default:
		return fmt.Errorf("%w: node %q: unknown role %q", ErrInvalidMeta, m.NodeID, m.Role)
	}
	switch m.State {
	case "", StateServing, StateDraining:
	default:
		return fmt.Errorf("%w: node %q: unknown state %q", ErrInvalidMeta, m.NodeID, m.State)
	}
	u, err := url.Parse(m.SignalURL)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: node %q: SignalURL %q is not an absolute http(s) URL", ErrInvalidMeta, m.NodeID, m.SignalURL)
	}
	return nil
}

// encodeMeta validates m and encodes it, refusing encodings over MaxMetaSize.
func encodeMeta(m Meta) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode meta of %q: %w", m.NodeID, err)
	}
	if len(b) > MaxMetaSize {
		return nil, fmt.Errorf("%w: node %q: encoded meta is %d bytes, limit %d", ErrInvalidMeta, m.NodeID, len(b), MaxMetaSize)
	}
	return b, nil
}

// decodeMeta parses and validates a member's metadata; name is its memberlist node name,
// which must equal NodeID so that one member cannot speak for another.
func decodeMeta(name string, b []byte) (Meta, error) {
	var m Meta
	if len(b) > MaxMetaSize {
		return m, fmt.Errorf("%w: node %q: meta is %d bytes, limit %d", ErrInvalidMeta, name, len(b), MaxMetaSize)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: node %q: meta is not valid JSON: %v", ErrInvalidMeta, name, err)
	}
	if m.NodeID != name {
		return m, fmt.Errorf("%w: node %q announces NodeID %q", ErrInvalidMeta, name, m.NodeID)
	}
	if err := m.Validate(); err != nil {
		return m, err
	}
	if m.State == "" {
		m.State = StateServing
	}
	return m, nil
}

// clone returns a copy of m that shares no memory with it.
func (m Meta) clone() Meta {
	m.MediaAddrs = slices.Clone(m.MediaAddrs)
	return m
}
