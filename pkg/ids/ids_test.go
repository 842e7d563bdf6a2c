package ids

import "testing"

func TestNewIDs(t *testing.T) {
	tests := []struct {
		name   string
		mint   func() string
		prefix string
	}{
		{"room", NewRoomID, RoomPrefix},
		{"participant", NewParticipantID, ParticipantPrefix},
		{"track", NewTrackID, TrackPrefix},
	}
	for _, tc := range tests {
		seen := make(map[string]bool)
		for i := 0; i < 1000; i++ {
			id := tc.mint()
			if !Valid(id, tc.prefix) || len(id) != len(tc.prefix)+randLen {
				t.Fatalf("%s: id %q is not %s + %d base62 chars", tc.name, id, tc.prefix, randLen)
			}
			if seen[id] {
				t.Fatalf("%s: duplicate id %q after %d", tc.name, id, i)
			}
			seen[id] = true
		}
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		id, prefix string
		want       bool
	}{
		{"RM_abc123", RoomPrefix, true},
		{"RM_", RoomPrefix, false},
		{"PA_abc", RoomPrefix, false},
		{"TR_ab-c", TrackPrefix, false},
		{"", TrackPrefix, false},
	}
	for _, tc := range tests {
		if got := Valid(tc.id, tc.prefix); got != tc.want {
			t.Errorf("Valid(%q, %q) = %v, want %v", tc.id, tc.prefix, got, tc.want)
		}
	}
}

func TestStreamID(t *testing.T) {
	if got, want := StreamID("PA_x", "TR_y"), "PA_x|TR_y"; got != want {
		t.Errorf("StreamID = %q, want %q", got, want)
	}
}
