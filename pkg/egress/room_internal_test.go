package egress

import "testing"

func TestRoomAllowed(t *testing.T) {
	for _, c := range []struct {
		granted, room string
		ok            bool
	}{
		{"", "class-1", true},        // a grant naming no room covers every room
		{"class-1", "class-1", true}, // its own room
		{"class-1", "class-2", false},
		{"class-1", "", false}, // a bound grant never acts on "every room"
		{"class-1", "Class-1", false},
	} {
		if err := roomAllowed(c.granted, c.room); (err == nil) != c.ok {
			t.Errorf("roomAllowed(%q, %q) = %v, want ok %v", c.granted, c.room, err, c.ok)
		}
	}
}
