package browser

import (
	"fmt"
	"slices"
	"testing"
)

// connectInfo is what the page's connect() returns.
type connectInfo struct {
	ConnectMs      float64 `json:"connectMs"`
	ParticipantSID string  `json:"participantSid"`
	RoomName       string  `json:"roomName"`
	ServerInfo     *struct {
		Version  string `json:"version"`
		Protocol int    `json:"protocol"`
	} `json:"serverInfo"`
}

// TestPublishSubscribe is issue 2's browser acceptance: page A publishes the fake camera and
// microphone with livekit-client; page B, in the same room, decodes more than 30 video frames
// and keeps receiving audio.
func TestPublishSubscribe(t *testing.T) {
	h := newHarness(t)
	sfu := startTarget(t)
	room := "browser-media"
	var data mediaData
	h.run(t, runConfig{
		Scenario:  "media",
		SFUURL:    sfu.url,
		Tokens:    map[string]string{"A": sfu.token(t, room, "A"), "B": sfu.token(t, room, "B")},
		MinFrames: 30,
		WaitMs:    20_000,
		TimeoutMs: 45_000,
	}, &data)
	checkMedia(t, data)
}

// mediaData is the media scenario's result (scenarios/media.js).
type mediaData struct {
	ConnectA     connectInfo  `json:"connectA"`
	ConnectB     connectInfo  `json:"connectB"`
	FirstFrameMs float64      `json:"firstFrameMs"`
	Inbound      []trackStats `json:"inbound"`
	InboundLater []trackStats `json:"inboundLater"`
	OutboundA    []trackStats `json:"outboundA"`
}

// checkMedia asserts that B decoded A's camera and received A's microphone, and returns B's
// video stats (for callers that check more, such as the candidate types through TURN).
func checkMedia(t *testing.T, data mediaData) (video trackStats) {
	t.Helper()
	t.Logf("A connected in %.0f ms, B in %.0f ms; B's first decoded frame %.0f ms after B connected; server %+v",
		data.ConnectA.ConnectMs, data.ConnectB.ConnectMs, data.FirstFrameMs, data.ConnectB.ServerInfo)
	for _, s := range data.OutboundA {
		for _, r := range s.RTP {
			t.Logf("A sends %v", r)
		}
	}
	vt, v, ok := first(data.Inbound, "video")
	if !ok {
		t.Fatalf("B has no subscribed video track with stats; B saw %+v", data.Inbound)
	}
	t.Logf("B receives %v (pair %s %s -> %s %s)", v, vt.LocalCandidateType, vt.LocalAddress, vt.RemoteCandidateType, vt.RemoteAddress)
	if vt.From != "A" || vt.Source != "camera" {
		t.Errorf("B's video track comes from %q source %q, want A's camera", vt.From, vt.Source)
	}
	if v.FramesDecoded <= 30 {
		t.Errorf("B decoded %d frames of A's camera, want > 30 (%v)", v.FramesDecoded, v)
	}
	if v.FrameWidth == 0 || v.FrameHeight == 0 {
		t.Errorf("B decoded frames of size %dx%d", v.FrameWidth, v.FrameHeight)
	}

	at, a, ok := first(data.Inbound, "audio")
	if !ok {
		t.Fatalf("B has no subscribed audio track with stats; B saw %+v", data.Inbound)
	}
	_, aLater, _ := first(data.InboundLater, "audio")
	t.Logf("B receives %v, one second later %v", a, aLater)
	if at.From != "A" || at.Source != "microphone" {
		t.Errorf("B's audio track comes from %q source %q, want A's microphone", at.From, at.Source)
	}
	// Opus sends 50 packets a second; within the second between the two samples at least half.
	if aLater.Packets-a.Packets < 25 || aLater.Bytes <= a.Bytes {
		t.Errorf("B's audio did not keep flowing: packets %d -> %d, bytes %d -> %d in 1 s",
			a.Packets, aLater.Packets, a.Bytes, aLater.Bytes)
	}
	if aLater.TotalAudioEnergy <= 0 {
		t.Errorf("B's audio carries no energy (totalAudioEnergy %v): silence instead of the fake microphone's beep", aLater.TotalAudioEnergy)
	}
	return vt
}

// TestSimulcastQuality: A publishes 1280x720 in three simulcast layers (h180, h360 and the full
// capture); B asks for LOW and then HIGH (RemoteTrackPublication.setVideoQuality), and the width
// B decodes follows: after LOW it is A's bottom layer, after HIGH its top layer. Layers are
// compared with the widths A encodes at that moment, since Chromium may scale every layer down
// when the machine is busy.
func TestSimulcastQuality(t *testing.T) {
	h := newHarness(t)
	sfu := startTarget(t)
	room := "browser-simulcast"
	var data simulcastData
	h.run(t, runConfig{
		Scenario: "simulcast",
		SFUURL:   sfu.url,
		Tokens:   map[string]string{"A": sfu.token(t, room, "A"), "B": sfu.token(t, room, "B")},
		Phases: []qualityPhase{
			{Quality: "LOW", Expect: "bottom", WaitMs: 15_000},
			{Quality: "HIGH", Expect: "top", WaitMs: 15_000},
		},
		WaitMs:    15_000,
		TimeoutMs: 75_000,
	}, &data)

	var layers []string
	if _, _, ok := first(data.OutboundA, "video"); ok {
		for _, r := range data.OutboundA[0].RTP {
			if r.FramesEncoded > 0 {
				layers = append(layers, fmt.Sprintf("%s:%dx%d", r.RID, r.FrameWidth, r.FrameHeight))
			}
		}
	}
	t.Logf("A encodes layers %v; B first decoded width %d", layers, data.InitialWidth)
	if len(layers) < 3 {
		t.Fatalf("Chromium encodes %d simulcast layers (%v), want 3: the publisher side, not the SFU, is short", len(layers), layers)
	}
	if _, _, ok := first(data.OutboundFinal, "video"); ok {
		for _, r := range data.OutboundFinal[0].RTP {
			t.Logf("A's layer %s at the end: %dx%d, %d frames encoded, %d PLIs received (limited by %q)",
				r.RID, r.FrameWidth, r.FrameHeight, r.FramesEncoded, r.PliCount, r.QualityLimitationReason)
		}
	}
	if len(data.Phases) != 2 {
		t.Fatalf("ran %d quality phases, want 2", len(data.Phases))
	}
	for _, p := range data.Phases {
		t.Logf("quality %s: B decodes width %d while A encodes %v (reached=%v after %d ms); series %+v",
			p.Quality, p.Width, p.Layers, p.Reached, p.Ms, p.Series)
		if p.Tracks != 1 {
			t.Errorf("setVideoQuality(%s) applied to %d tracks, want 1", p.Quality, p.Tracks)
		}
		if len(p.Layers) < 3 {
			t.Errorf("at %s A encodes %d layers %v, want 3 (publisher side)", p.Quality, len(p.Layers), p.Layers)
			continue
		}
		mid := p.Layers[1]
		switch {
		case !p.Reached:
			t.Errorf("after setVideoQuality(%s) B never decoded the %s layer within the wait; last width %d, A's layers %v",
				p.Quality, p.Expect, p.Width, p.Layers)
		case p.Expect == "bottom" && !(p.Width > 0 && p.Width < mid):
			t.Errorf("after setVideoQuality(LOW) B decodes width %d, want A's bottom layer (narrower than %d; layers %v)", p.Width, mid, p.Layers)
		case p.Expect == "top" && !(p.Width > mid):
			t.Errorf("after setVideoQuality(HIGH) B decodes width %d, want A's top layer (wider than %d; layers %v)", p.Width, mid, p.Layers)
		}
	}
}

// simulcastData is the simulcast scenario's result (scenarios/simulcast.js).
type simulcastData struct {
	OutboundA    []trackStats `json:"outboundA"`
	InitialWidth int          `json:"initialWidth"`
	Phases       []struct {
		Quality string `json:"quality"`
		Expect  string `json:"expect"`
		Tracks  int    `json:"tracks"`
		Reached bool   `json:"reached"`
		Ms      int    `json:"ms"`
		Width   int    `json:"width"`
		Layers  []int  `json:"layers"` // A's encoded widths, ascending, when Width was sampled
		Series  []struct {
			Ms            int   `json:"ms"`
			Width         int   `json:"width"`
			FramesDecoded int   `json:"framesDecoded"`
			Layers        []int `json:"layers"`
		} `json:"series"`
	} `json:"phases"`
	OutboundFinal []trackStats `json:"outboundFinal"`
}

// dataMessage mirrors what the pages record and send (scenarios/data.js).
type dataMessage struct {
	From                  string   `json:"from"`
	Kind                  int      `json:"kind"` // livekit.DataPacket_Kind: 0 reliable, 1 lossy
	Topic                 string   `json:"topic"`
	Text                  string   `json:"text"`
	Reliable              bool     `json:"reliable"`
	DestinationIdentities []string `json:"destinationIdentities"`
}

// TestDataMessages: publishData reliable and lossy, to everyone and to destination identities,
// reaches exactly the intended participants, stamped with the sender and the kind.
func TestDataMessages(t *testing.T) {
	h := newHarness(t)
	sfu := startTarget(t)
	room := "browser-data"
	names := []string{"A", "B", "C"}
	tokens := map[string]string{}
	for _, n := range names {
		tokens[n] = sfu.token(t, room, n)
	}
	var data struct {
		HandshakeMs int                      `json:"handshakeMs"`
		AllArrived  bool                     `json:"allArrived"`
		Sent        []dataMessage            `json:"sent"`
		Received    map[string][]dataMessage `json:"received"`
		Seen        map[string][]string      `json:"seen"`
	}
	h.run(t, runConfig{Scenario: "data", SFUURL: sfu.url, Tokens: tokens, WaitMs: 10_000, TimeoutMs: 45_000}, &data)

	t.Logf("participants seen: %v; data channels ready after %d ms", data.Seen, data.HandshakeMs)
	if data.HandshakeMs < 0 {
		t.Fatalf("handshake broadcasts never reached everyone; received %v", data.Received)
	}
	if len(data.Sent) == 0 {
		t.Fatalf("scenario sent nothing")
	}
	for _, m := range data.Sent {
		wantKind := 1
		if m.Reliable {
			wantKind = 0
		}
		for _, n := range names {
			if n == m.From {
				continue
			}
			want := len(m.DestinationIdentities) == 0 || slices.Contains(m.DestinationIdentities, n)
			var got []dataMessage
			for _, r := range data.Received[n] {
				if r.Text == m.Text {
					got = append(got, r)
				}
			}
			switch {
			case want && len(got) == 0:
				t.Errorf("%s did not receive %q from %s (reliable=%v, to %v)", n, m.Text, m.From, m.Reliable, m.DestinationIdentities)
			case !want && len(got) > 0:
				t.Errorf("%s received %q from %s, which was sent only to %v", n, m.Text, m.From, m.DestinationIdentities)
			case len(got) > 1:
				t.Errorf("%s received %q %d times, want once", n, m.Text, len(got))
			case len(got) == 1:
				if r := got[0]; r.From != m.From || r.Topic != m.Topic || r.Kind != wantKind {
					t.Errorf("%s received %q as from=%q topic=%q kind=%d, want from=%q topic=%q kind=%d",
						n, m.Text, r.From, r.Topic, r.Kind, m.From, m.Topic, wantKind)
				}
			}
		}
	}
	for _, n := range names {
		for _, r := range data.Received[n] {
			if r.From == n {
				t.Errorf("%s received its own packet %q", n, r.Text)
			}
		}
	}
}
