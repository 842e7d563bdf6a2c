package sfu

import (
	"net"
	"testing"
)

func TestChooseSpill(t *testing.T) {
	cands := []spillCandidate{{"b", 0.9}, {"c", 0.5}, {"d", 0}}
	for _, tc := range []struct {
		name string
		in   spillInput
		want string
	}{
		{"relaying not configured", spillInput{Local: 100, Candidates: cands}, ""},
		{"origin under its cap", spillInput{Local: 2, PerNode: 3, Headroom: 1, Candidates: cands}, ""},
		{"origin full: most headroom opens", spillInput{Local: 3, PerNode: 3, Headroom: 1, Candidates: cands}, "b"},
		{"fill the relay node with room first", spillInput{Local: 3, PerNode: 3, Relays: map[string]int{"c": 1}, Candidates: cands}, "c"},
		{"fullest relay node with room wins", spillInput{Local: 3, PerNode: 3, Relays: map[string]int{"b": 1, "c": 2}, Candidates: cands}, "c"},
		{"full relay node: open another", spillInput{Local: 3, PerNode: 3, Relays: map[string]int{"b": 3}, Candidates: cands}, "c"},
		{"everyone full and no headroom left: origin overflows", spillInput{Local: 3, PerNode: 3, Relays: map[string]int{"b": 3, "c": 3}, Candidates: cands}, ""},
		{"a dead relay node is not chosen", spillInput{Local: 3, PerNode: 3, Relays: map[string]int{"x": 1}, Candidates: cands}, "b"},
		{"low headroom spills below the cap", spillInput{Local: 1, PerNode: 10, Headroom: 0.1, MinHeadroom: 0.2, Candidates: cands}, "b"},
		{"headroom alone", spillInput{Local: 500, Headroom: 0.5, MinHeadroom: 0.2, Candidates: cands}, ""},
		{"returning identity goes back to its node", spillInput{Local: 0, PerNode: 3, IdentityNode: "c", Candidates: cands}, "c"},
		{"tie on headroom: lower id", spillInput{Local: 3, PerNode: 3, Candidates: []spillCandidate{{"z", 0.5}, {"y", 0.5}}}, "y"},
	} {
		if got := chooseSpill(tc.in); got != tc.want {
			t.Errorf("%s: chooseSpill = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAdvertisedRelayAddr(t *testing.T) {
	for _, tc := range []struct {
		adv   string
		bound string
		want  string
	}{
		{"", "127.0.0.1:7883", "127.0.0.1:7883"},
		{"", "0.0.0.0:7883", "127.0.0.1:7883"},
		{"10.0.0.5:7946", "0.0.0.0:7883", "10.0.0.5:7883"},
		{"sfu-a.internal:7946", "0.0.0.0:7883", "sfu-a.internal:7883"},
	} {
		ua, err := net.ResolveUDPAddr("udp", tc.bound)
		if err != nil {
			t.Fatal(err)
		}
		if got := advertisedRelayAddr(tc.adv, ua); got != tc.want {
			t.Errorf("advertisedRelayAddr(%q, %s) = %s, want %s", tc.adv, tc.bound, got, tc.want)
		}
	}
}
