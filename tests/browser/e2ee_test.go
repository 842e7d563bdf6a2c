package browser

import (
	"strings"
	"testing"
)

// TestEndToEndEncryption is issue 16's E2EE acceptance: livekit-client's end-to-end
// encryption (ExternalE2EEKeyProvider with a shared key, the SDK's own worker) through the
// SFU, which never has the key. A and B share the key and decode each other's camera; C (no
// encryption) and D (another key) receive A's packets but decode nothing; every page sees
// the tracks as encrypted (TrackInfo.encryption from the publisher's add_track). B asks for
// A's simulcast layers LOW then HIGH: the switches happen at keyframes found in what the SDK
// leaves in the clear.
func TestEndToEndEncryption(t *testing.T) {
	h := newHarness(t)
	sfu := startTarget(t)
	room := "browser-e2ee"
	type participantView struct {
		Identity string `json:"identity"`
		Tracks   []struct {
			SID       string `json:"sid"`
			Kind      string `json:"kind"`
			Encrypted bool   `json:"encrypted"`
		} `json:"tracks"`
	}
	type encryption struct {
		Enabled bool     `json:"enabled"`
		Errors  []string `json:"errors"`
	}
	var data struct {
		BDecodesA     bool              `json:"bDecodesA"`
		InitialWidth  int               `json:"initialWidthBofA"`
		ADecodesB     bool              `json:"aDecodesB"`
		InboundA      []trackStats      `json:"inboundA"`
		InboundB      []trackStats      `json:"inboundB"`
		InboundC      []trackStats      `json:"inboundC"`
		InboundD      []trackStats      `json:"inboundD"`
		PicturesB     []picture         `json:"picturesB"`
		PicturesC     []picture         `json:"picturesC"`
		EncryptionA   encryption        `json:"encryptionA"`
		EncryptionB   encryption        `json:"encryptionB"`
		EncryptionC   encryption        `json:"encryptionC"`
		EncryptionD   encryption        `json:"encryptionD"`
		ParticipantsC []participantView `json:"participantsC"`
		ParticipantsD []participantView `json:"participantsD"`
		Phases        []struct {
			Quality string `json:"quality"`
			Reached bool   `json:"reached"`
			MS      int    `json:"ms"`
			Width   int    `json:"width"`
		} `json:"phases"`
	}
	tokens := map[string]string{}
	for _, n := range []string{"A", "B", "C", "D"} {
		tokens[n] = sfu.token(t, room, n)
	}
	h.run(t, runConfig{
		Scenario:  "e2ee",
		SFUURL:    sfu.url,
		Tokens:    tokens,
		E2EEKeys:  map[string]string{"A": "atrium shared key", "B": "atrium shared key", "D": "some other key"},
		WaitMs:    30_000,
		TimeoutMs: 240_000,
	}, &data)

	if !data.EncryptionA.Enabled || !data.EncryptionB.Enabled {
		t.Errorf("A encrypts: %v, B encrypts: %v; want both", data.EncryptionA.Enabled, data.EncryptionB.Enabled)
	}
	videoFrom := func(stats []trackStats, from string) (rtpStats, bool) {
		for _, s := range stats {
			if s.Kind == "video" && s.From == from && len(s.RTP) > 0 {
				return s.RTP[0], true
			}
		}
		return rtpStats{}, false
	}
	for _, c := range []struct {
		who, from string
		stats     []trackStats
		done      bool
	}{{"B", "A", data.InboundB, data.BDecodesA}, {"A", "B", data.InboundA, data.ADecodesB}} {
		// Judged at the end of the scenario, not when its first wait ended: at a load of 20-50
		// on two cores four pages decoding and decrypting may take longer than that wait.
		v, ok := videoFrom(c.stats, c.from)
		if !ok || v.FramesDecoded <= 30 {
			t.Errorf("%s decoding %s's encrypted camera: %v (30 frames within the first wait: %t), want more than 30 frames decoded", c.who, c.from, v, c.done)
		}
	}
	// Without the key: packets arrive, no clear picture comes out. D (another key) has every
	// frame dropped by the SDK's decryption: nothing decodes. C (no encryption) hands the
	// ciphertext to its VP8 decoder, which rejects most frames and turns the rest into noise
	// (livekit-client leaves a keyframe's first 10 bytes clear, so some parse): what C shows
	// of A must not be the camera picture B shows.
	for _, c := range []struct {
		who   string
		stats []trackStats
	}{{"C", data.InboundC}, {"D", data.InboundD}} {
		v, ok := videoFrom(c.stats, "A")
		if !ok || v.Packets < 300 {
			t.Errorf("%s received %v of A's camera, want at least 300 packets (else no decode proves nothing)", c.who, v)
			continue
		}
		t.Logf("%s without the key: %v, frames received %d, dropped %d", c.who, v, v.FramesReceived, v.FramesDropped)
		if c.who == "D" && v.FramesDecoded != 0 {
			t.Errorf("D (another key) decoded %d frames of A's encrypted camera, want 0: %v", v.FramesDecoded, v)
		}
	}
	clear, ok := pictureOf(data.PicturesB, "A")
	if !ok {
		t.Fatalf("B shows no picture of A: %+v", data.PicturesB)
	}
	if noise, ok := pictureOf(data.PicturesC, "A"); ok {
		d := clear.distance(noise)
		t.Logf("A's camera as B shows it %v, as C shows it %v: distance %d", clear.Mean, noise.Mean, d)
		if d < 100 {
			t.Errorf("C (no key) shows A's camera as %v, too close to B's clear picture %v (distance %d < 100)", noise.Mean, clear.Mean, d)
		}
	}
	for _, c := range []struct {
		who   string
		views []participantView
	}{{"C", data.ParticipantsC}, {"D", data.ParticipantsD}} {
		n := 0
		for _, p := range c.views {
			for _, tr := range p.Tracks {
				if tr.Kind != "video" {
					continue
				}
				n++
				if !tr.Encrypted {
					t.Errorf("%s sees %s's track %s as not encrypted; the publisher asked for encryption", c.who, p.Identity, tr.SID)
				}
			}
		}
		if n != 2 {
			t.Errorf("%s sees %d video tracks, want A's and B's", c.who, n)
		}
	}
	if len(data.EncryptionC.Errors) == 0 {
		t.Error("C (no encryption) got no EncryptionError for the encrypted tracks it received")
	}
	if len(data.Phases) != 2 {
		t.Fatalf("B went through %d quality phases, want LOW and HIGH", len(data.Phases))
	}
	// A switch happens only at a keyframe of the layer switched to, found by the SFU in what
	// livekit-client leaves in the clear. At least one switch must show: down from the width B
	// first decoded to LOW, or up from LOW to HIGH. (Going up also needs B's bandwidth
	// allocator to allow it, which a machine at load 40+ sometimes does not for 30 s.)
	low, high := data.Phases[0], data.Phases[1]
	down := low.Reached && data.InitialWidth > low.Width
	up := high.Reached && high.Width > low.Width
	if !down && !up {
		t.Errorf("no layer switch on A's encrypted track: B first decoded %d px, at LOW %+v, at HIGH %+v", data.InitialWidth, low, high)
	}
	t.Logf("B decoded A first at %d px, at LOW %d px (%d ms), at HIGH %d px (reached=%t, %d ms)", data.InitialWidth, low.Width, low.MS, high.Width, high.Reached, high.MS)
}

// picture is what pages/harness.js pictures() samples of one video element.
type picture struct {
	ID     string `json:"id"`
	Width  int    `json:"width"`
	Mean   [3]int `json:"mean"`
	Spread int    `json:"spread"`
}

// distance sums the differences of two pictures' mean colours (0..765).
func (p picture) distance(q picture) int {
	d := 0
	for i := range p.Mean {
		d += max(p.Mean[i]-q.Mean[i], q.Mean[i]-p.Mean[i])
	}
	return d
}

// pictureOf finds the picture of identity's video (element ids are "<identity>-<track sid>").
func pictureOf(ps []picture, identity string) (picture, bool) {
	for _, p := range ps {
		if p.Width > 0 && strings.HasPrefix(p.ID, identity+"-") {
			return p, true
		}
	}
	return picture{}, false
}
