package relaywire

import (
	"bytes"
	"errors"
	"testing"
)

var master = []byte("0123456789abcdef0123456789abcdef")

func pair(t *testing.T, session uint32) (*Sealer, *Opener) {
	t.Helper()
	s, err := NewSealer(master, "sfu-1", "sfu-2", session)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(master, "sfu-2", "sfu-1")
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

func TestSealOpen(t *testing.T) {
	s, o := pair(t, 7)
	plain := AppendMedia(nil, TypeRTP, "TR_abc", 2, []byte{0x80, 1, 2, 3})
	frame := s.Seal(nil, plain)
	if len(frame) != len(plain)+s.Overhead() {
		t.Fatalf("frame %d bytes, want %d", len(frame), len(plain)+s.Overhead())
	}
	if from, err := Sender(frame); err != nil || from != "sfu-1" {
		t.Fatalf("Sender = %q, %v", from, err)
	}
	got, err := o.Open(nil, frame)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	typ, track, layer, pkt, err := ParseMedia(got)
	if err != nil || typ != TypeRTP || string(track) != "TR_abc" || layer != 2 || !bytes.Equal(pkt, []byte{0x80, 1, 2, 3}) {
		t.Fatalf("ParseMedia = %d %q %d %x %v", typ, track, layer, pkt, err)
	}
	if bytes.Contains(frame, []byte{0x80, 1, 2, 3}) {
		t.Fatal("the packet is readable in the frame")
	}
}

func TestOpenRefuses(t *testing.T) {
	s, _ := pair(t, 1)
	frame := s.Seal(nil, []byte{TypeControl, '{', '}'})
	tampered := append([]byte(nil), frame...)
	tampered[len(tampered)-1] ^= 1
	otherKey, _ := NewOpener([]byte("another cluster secret, 32 bytes"), "sfu-2", "sfu-1")
	reflected, _ := NewOpener(master, "sfu-1", "sfu-2") // sfu-1 reading its own frame back
	wrongPeer, _ := NewOpener(master, "sfu-2", "sfu-3")
	for name, tc := range map[string]struct {
		o     *Opener
		frame []byte
		want  error
	}{
		"tampered":    {mustOpener(t), tampered, ErrAuth},
		"other key":   {otherKey, frame, ErrAuth},
		"reflected":   {reflected, frame, ErrAuth},
		"wrong peer":  {wrongPeer, frame, ErrAuth},
		"truncated":   {mustOpener(t), frame[:10], ErrMalformed},
		"not a frame": {mustOpener(t), []byte("hello world, this is not a frame"), ErrMalformed},
	} {
		if _, err := tc.o.Open(nil, tc.frame); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

func mustOpener(t *testing.T) *Opener {
	o, err := NewOpener(master, "sfu-2", "sfu-1")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestReplayWindow(t *testing.T) {
	s, o := pair(t, 10)
	var frames [][]byte
	for i := 0; i < 100; i++ {
		frames = append(frames, s.Seal(nil, []byte{TypeControl}))
	}
	open := func(i int) error { _, err := o.Open(nil, frames[i]); return err }
	steps := []struct {
		i    int
		want error
	}{
		{5, nil}, {5, ErrReplay}, {3, nil}, {4, nil}, {3, ErrReplay}, // reordered, then repeated
		{80, nil}, {20, nil}, {16, ErrReplay}, // 64 behind 80 is too old
		{99, nil}, {80, ErrReplay},
	}
	for _, st := range steps {
		if err := open(st.i); !errors.Is(err, st.want) && !(st.want == nil && err == nil) {
			t.Fatalf("frame %d: err = %v, want %v", st.i, err, st.want)
		}
	}
	// The peer restarts with a later session: accepted from counter 1; the old session
	// is refused from then on.
	s2, _ := NewSealer(master, "sfu-1", "sfu-2", 11)
	if _, err := o.Open(nil, s2.Seal(nil, []byte{TypeControl})); err != nil {
		t.Fatalf("new session: %v", err)
	}
	if _, err := o.Open(nil, s.Seal(nil, []byte{TypeControl})); !errors.Is(err, ErrReplay) {
		t.Fatalf("old session after a new one: err = %v, want ErrReplay", err)
	}
}

func TestControlRoundTrip(t *testing.T) {
	c := &Control{Kind: KindPull, Room: "r", Track: "TR_x", Layers: []int{0, 2}}
	b, err := AppendControl(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseControl(b)
	if err != nil || got.Kind != KindPull || got.Track != "TR_x" || len(got.Layers) != 2 || got.Layers[1] != 2 {
		t.Fatalf("ParseControl = %+v, %v", got, err)
	}
	var buf bytes.Buffer
	if err := WriteRecord(&buf, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	rec, err := ReadRecord(&buf, nil)
	if err != nil || string(rec) != "abc" {
		t.Fatalf("ReadRecord = %q, %v", rec, err)
	}
}
