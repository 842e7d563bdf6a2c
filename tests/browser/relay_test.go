package browser

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/turn/turntest"
)

// TestRelayOnly is issue 6's browser acceptance: with livekit-client's
// rtcConfig.iceTransportPolicy = 'relay', page A publishes and page B decodes through Atrium's
// TURN relay. The pages get the relay and their credentials only from the SFU's JoinResponse
// ice_servers, so this also proves the SFU hands out working coturn-style credentials. Run
// once with the relay's UDP listener only and once with TCP only.
func TestRelayOnly(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			h := newHarness(t)
			relay := turntest.Serve(t, turntest.Options{})
			url := relay.URL(transport)
			if url == "" {
				t.Fatalf("turntest relay has no %s listener (URLs %v)", transport, relay.URLs())
			}
			srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
				c.TURN = sfu.TURNConfig{URLs: []string{url}, Secret: relay.Secret, TTL: 10 * time.Minute}
			}))
			room := "browser-relay-" + transport
			token := func(identity string) string {
				return srv.Token(room, identity, sfutest.CanPublish(true), sfutest.CanSubscribe(true), sfutest.CanPublishData(true))
			}
			var data mediaData
			h.run(t, runConfig{
				Scenario:       "media",
				SFUURL:         srv.URL(),
				Tokens:         map[string]string{"A": token("A"), "B": token("B")},
				ConnectOptions: map[string]any{"rtcConfig": map[string]any{"iceTransportPolicy": "relay"}},
				MinFrames:      30,
				WaitMs:         20_000,
				TimeoutMs:      45_000,
			}, &data)

			video := checkMedia(t, data)
			if video.LocalCandidateType != "relay" {
				t.Errorf("B receives over a %q local candidate (%s -> %s), want relay", video.LocalCandidateType, video.LocalAddress, video.RemoteAddress)
			}
			for _, s := range data.OutboundA {
				if s.LocalCandidateType != "relay" {
					t.Errorf("A sends %s over a %q local candidate (%s -> %s), want relay", s.Kind, s.LocalCandidateType, s.LocalAddress, s.RemoteAddress)
				}
			}
			created, packets := relayCounters(t, relay)
			t.Logf("relay over %s: %v allocations created, %v packets relayed", transport, created, packets)
			// Two pages, each with a publisher and a subscriber PeerConnection (or one with
			// /rtc/v1): at least one allocation per page.
			if created < 2 || packets < 100 {
				t.Errorf("relay counted %v allocations and %v relayed packets, want >= 2 and >= 100", created, packets)
			}
		})
	}
}

// relayCounters sums the relay's allocations-created and relayed-packets counters over all
// their labels.
func relayCounters(t *testing.T, relay *turntest.Relay) (allocations, packets float64) {
	t.Helper()
	mfs, err := relay.Server.Registry().Gather()
	if err != nil {
		t.Fatalf("gather relay metrics: %v", err)
	}
	for _, mf := range mfs {
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue()
		}
		switch mf.GetName() {
		case "atrium_turn_allocations_created_total":
			allocations = sum
		case "atrium_turn_relayed_packets_total":
			packets = sum
		}
	}
	return allocations, packets
}
