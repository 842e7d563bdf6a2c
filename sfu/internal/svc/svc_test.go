package svc

import "testing"

// pic returns the packets of one L3 picture with one packet per layer frame: spatial layers
// 0..n-1 at temporal layer t, the marker on the last. key marks a keyframe, up the U bit.
func pic(n, t int, key, up bool) []Packet {
	var out []Packet
	for s := range n {
		out = append(out, Packet{Spatial: s, Temporal: t, Start: true, End: true, Keyframe: key && s == 0, SwitchUp: up, Marker: s == n-1})
	}
	return out
}

// step is one picture fed to the Selector, after an optional SetTarget.
type step struct {
	setS, setT int // -1: no SetTarget before this picture
	packets    []Packet
	want       string // per packet: "." dropped, "f" forwarded, "M" forwarded with marker; "!" appended when a keyframe is asked for
}

func TestSelector(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"waits for a keyframe, then forwards everything", []step{
			{-1, -1, pic(3, 0, false, false), "...!"},
			{-1, -1, pic(3, 0, true, false), "ffM"},
			{-1, -1, pic(3, 2, false, false), "ffM"},
		}},
		{"target set before the first keyframe applies at it", []step{
			{0, 2, pic(3, 0, true, false), "M.."},
			{-1, -1, pic(3, 1, false, false), "M.."},
		}},
		{"spatial down at the next picture, marker moves to the top forwarded layer", []step{
			{-1, -1, pic(3, 0, true, false), "ffM"},
			{1, 2, pic(3, 2, false, false), "fM."},
			{0, 2, pic(3, 1, false, false), "M.."},
		}},
		{"spatial up waits for a keyframe and asks for one", []step{
			{0, 7, pic(3, 0, true, false), "M.."},
			{2, 7, pic(3, 2, false, true), "M..!"},
			{-1, -1, pic(3, 1, false, true), "M..!"},
			{-1, -1, pic(3, 0, true, false), "ffM"},
		}},
		{"temporal down at once, up only at a switching point", []step{
			{-1, -1, pic(2, 0, true, false), "fM"},
			{1, 0, pic(2, 2, false, false), ".."},
			{-1, -1, pic(2, 0, false, false), "fM"},
			{1, 2, pic(2, 2, false, false), ".."},
			{-1, -1, pic(2, 1, false, false), ".."},
			{-1, -1, pic(2, 2, false, true), "fM"},
			{-1, -1, pic(2, 1, false, false), "fM"},
		}},
		{"target above what is sent forwards all and keeps the publisher's marker", []step{
			{7, 7, pic(2, 0, true, false), "fM"},
			{-1, -1, pic(2, 1, false, false), "fM"},
		}},
		{"reset waits for the next keyframe", []step{
			{-1, -1, pic(2, 0, true, false), "fM"},
			{-2, -2, pic(2, 0, false, false), "..!"},
			{-1, -1, pic(2, 0, true, false), "fM"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New()
			for i, st := range c.steps {
				switch {
				case st.setS == -2:
					s.Reset()
				case st.setS >= 0:
					s.SetTarget(st.setS, st.setT)
				}
				got, kf := "", false
				for _, p := range st.packets {
					d := s.Select(p)
					kf = kf || d.NeedKeyframe
					switch {
					case !d.Forward:
						got += "."
					case d.Marker:
						got += "M"
					default:
						got += "f"
					}
				}
				if kf {
					got += "!"
				}
				if got != st.want {
					t.Errorf("step %d (%v): got %q, want %q", i, st.packets, got, st.want)
				}
			}
		})
	}
}

// TestSelectorMultiPacketFrames: with several packets per layer frame, only the last packet
// (E) of the top forwarded layer gets the marker, and a switch never happens mid-picture.
func TestSelectorMultiPacketFrames(t *testing.T) {
	s := New()
	frame := func(sp, tp int, key bool, marker bool) []Packet {
		return []Packet{
			{Spatial: sp, Temporal: tp, Start: true, Keyframe: key && sp == 0},
			{Spatial: sp, Temporal: tp},
			{Spatial: sp, Temporal: tp, End: true, Marker: marker},
		}
	}
	var picture []Packet
	for sp := range 3 {
		picture = append(picture, frame(sp, 0, true, sp == 2)...)
	}
	s.SetTarget(1, 7)
	var got string
	for i, p := range picture {
		if i == 4 {
			s.SetTarget(0, 7) // mid-picture: must not cut S1 of this picture
		}
		d := s.Select(p)
		switch {
		case !d.Forward:
			got += "."
		case d.Marker:
			got += "M"
		default:
			got += "f"
		}
	}
	if want := "fffffM..."; got != want {
		t.Errorf("keyframe picture with a target change mid-picture: got %q, want %q", got, want)
	}
	got = ""
	for sp := range 3 {
		for _, p := range frame(sp, 0, false, sp == 2) {
			if d := s.Select(p); !d.Forward {
				got += "."
			} else if d.Marker {
				got += "M"
			} else {
				got += "f"
			}
		}
	}
	if want := "ffM......"; got != want {
		t.Errorf("next picture: got %q, want %q", got, want)
	}
}
