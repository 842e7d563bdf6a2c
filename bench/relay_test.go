package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/turn/turntest"
)

// relayedByRegistry sums the relay's own relayed-packet counters per direction, read from
// its registry (not through the tester's scraper, which is what is under test).
func relayedByRegistry(t *testing.T, reg *prometheus.Registry) (toPeer, fromPeer uint64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather relay metrics: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != RelayedPacketsMetric {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "direction" {
					continue
				}
				switch l.GetValue() {
				case "to_peer":
					toPeer += uint64(m.GetCounter().GetValue())
				case "from_peer":
					fromPeer += uint64(m.GetCounter().GetValue())
				}
			}
		}
	}
	return toPeer, fromPeer
}

// relayedSFU starts a TURN relay and an SFU that hands out its UDP URL in
// JoinResponse.ice_servers.
func relayedSFU(t *testing.T) (*turntest.Relay, *sfutest.Server) {
	t.Helper()
	relay := turntest.Serve(t, turntest.Options{})
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.TURN = sfu.TURNConfig{URLs: []string{relay.URL("udp")}, Secret: relay.Secret, TTL: time.Hour}
	}))
	return relay, srv
}

// Issue 6's measurement: a relay-only lecture against an in-process SFU receives media, and
// the relay's own counters prove every packet the students received crossed it (a student
// reaching the SFU directly would leave from_peer short of what it received).
func TestRelayOnlySubscribersThroughTURN(t *testing.T) {
	relay, srv := relayedSFU(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 3})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 5 * time.Second
	metricsURL := "http://" + relay.Addrs.HTTP + "/metrics"
	res, err := Run(context.Background(), Options{Scenario: scn, RelayOnly: RelaySubscribers,
		TURNPID: os.Getpid(), TURNMetricsURL: metricsURL, // the relay runs in this process
		Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}})
	if err != nil {
		t.Fatalf("Run relay-only: %v", err)
	}
	received := res.Audio.ReceivedPackets + res.Video.ReceivedPackets
	if res.Audio.ReceivedPackets == 0 || res.Video.ReceivedPackets == 0 {
		t.Fatalf("received audio/video = %d/%d, want both > 0 through the relay", res.Audio.ReceivedPackets, res.Video.ReceivedPackets)
	}
	if res.LossPercent >= 5 {
		t.Errorf("loss %.2f%% through the relay, want < 5%%", res.LossPercent)
	}
	rr := res.Relay
	if rr == nil {
		t.Fatal("Result.Relay is nil for a relay-only run")
	}
	toPeer, fromPeer := relayedByRegistry(t, relay.Server.Registry())
	if fromPeer < received {
		t.Errorf("relay forwarded %d packets to clients (from_peer), students received %d: media bypassed the relay", fromPeer, received)
	}
	if rr.Mode != RelaySubscribers || rr.Participants != 3 || rr.Source != "metrics" {
		t.Errorf("relay result mode %q, participants %d, source %q; want subscribers, 3, metrics", rr.Mode, rr.Participants, rr.Source)
	}
	// The tester's scrape agrees with the registry (the registry is read last, so it may be ahead).
	if rr.RunFromPeer < received || rr.RunFromPeer > fromPeer || rr.RunToPeer > toPeer {
		t.Errorf("scraped run from/to peer = %d/%d; registry %d/%d, received %d", rr.RunFromPeer, rr.RunToPeer, fromPeer, toPeer, received)
	}
	if rr.RelayedPackets == 0 || rr.RelayedPackets != rr.ToPeer+rr.FromPeer || rr.RelayedPackets > rr.RunToPeer+rr.RunFromPeer {
		t.Errorf("steady relayed %d (to %d + from %d), run %d: inconsistent", rr.RelayedPackets, rr.ToPeer, rr.FromPeer, rr.RunToPeer+rr.RunFromPeer)
	}
	if rr.CPUSeconds <= 0 || rr.PerCPUSecond <= 0 || rr.PeakRSS <= 0 {
		t.Errorf("relay cpu %.3f s, %.0f pkt per cpu-s, rss %d: want all > 0", rr.CPUSeconds, rr.PerCPUSecond, rr.PeakRSS)
	}
	var table strings.Builder
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "relayed pkt per turn cpu-s") {
		t.Errorf("table has no relay figures:\n%s", table.String())
	}
	if t.Failed() {
		t.Logf("result:\n%s", table.String())
	}
}

// With --relay-only=all the teacher publishes through the relay too; without --turn-metrics
// the relayed packets are estimated from what the tester sent and received, which the relay's
// own counters must cover.
func TestRelayOnlyAllEstimate(t *testing.T) {
	relay, srv := relayedSFU(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 2})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 4 * time.Second
	res, err := Run(context.Background(), Options{Scenario: scn, RelayOnly: RelayAll,
		Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}})
	if err != nil {
		t.Fatalf("Run relay-only=all: %v", err)
	}
	sent := res.Audio.SentPackets + res.Video.SentPackets
	received := res.Audio.ReceivedPackets + res.Video.ReceivedPackets
	toPeer, fromPeer := relayedByRegistry(t, relay.Server.Registry())
	if received == 0 || toPeer < sent || fromPeer < received {
		t.Errorf("sent %d / received %d packets; relay to_peer %d, from_peer %d: want media both ways through the relay",
			sent, received, toPeer, fromPeer)
	}
	rr := res.Relay
	if rr == nil || rr.Mode != RelayAll || rr.Participants != 3 || rr.Source != "estimate" || rr.RelayedPackets == 0 {
		t.Fatalf("relay result = %+v, want mode all, 3 participants, an estimate > 0", rr)
	}
	if rr.RelayedPackets > toPeer+fromPeer {
		t.Errorf("estimated %d relayed packets, more than the relay counted (%d)", rr.RelayedPackets, toPeer+fromPeer)
	}
}

func TestParseRelayedPackets(t *testing.T) {
	tests := []struct {
		name, in string
		want     RelayedPackets
		err      string
	}{
		{"both transports", `# HELP atrium_turn_relayed_packets_total Datagrams relayed.
# TYPE atrium_turn_relayed_packets_total counter
atrium_turn_relayed_packets_total{direction="from_peer",transport="tcp"} 5
atrium_turn_relayed_packets_total{direction="from_peer",transport="udp"} 1.2e+06
atrium_turn_relayed_packets_total{direction="to_peer",transport="udp"} 300
atrium_turn_relayed_packets_total_other{direction="to_peer"} 7
atrium_turn_relayed_bytes_total{direction="to_peer",transport="udp"} 99999
`, RelayedPackets{ToPeer: 300, FromPeer: 1_200_005}, ""},
		{"with timestamp", "atrium_turn_relayed_packets_total{direction=\"to_peer\",transport=\"udp\"} 4 1700000000000\n",
			RelayedPackets{ToPeer: 4}, ""},
		{"absent", "go_goroutines 12\n", RelayedPackets{}, "no atrium_turn_relayed_packets_total"},
		{"garbage value", "atrium_turn_relayed_packets_total{direction=\"to_peer\"} many\n", RelayedPackets{}, "malformed"},
	}
	for _, tc := range tests {
		got, err := parseRelayedPackets(strings.NewReader(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: parseRelayedPackets = %+v, %v; want error containing %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: parseRelayedPackets = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestRelayOptionsValidated(t *testing.T) {
	scn, _ := Preset("lecture", PresetParams{Subscribers: 1})
	scn.Duration = 2 * time.Second
	target := Target{URL: "ws://127.0.0.1:1", APIKey: "k", APISecret: "s"}
	tests := []struct {
		opts Options
		want string
	}{
		{Options{TURNPID: os.Getpid()}, "need --relay-only"},
		{Options{TURNMetricsURL: "http://127.0.0.1:1/metrics"}, "need --relay-only"},
		{Options{RelayOnly: "some"}, "want subscribers or all"},
		{Options{RelayOnly: RelaySubscribers, TURNMetricsURL: "127.0.0.1:9478"}, "http(s) URL"},
	}
	for _, tc := range tests {
		tc.opts.Scenario, tc.opts.Target = scn, target
		start := time.Now()
		_, err := Run(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want error containing %q", tc.opts.RelayOnly, err, tc.want)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("invalid options took %v to refuse", d)
		}
	}
	for in, want := range map[string]RelayMode{"": RelayNone, "none": RelayNone, "true": RelaySubscribers,
		"subscribers": RelaySubscribers, "ALL": RelayAll} {
		if got, err := ParseRelayMode(in); err != nil || got != want {
			t.Errorf("ParseRelayMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// An unreachable --turn-metrics fails the run before anyone joins.
func TestTURNMetricsUnreachableFailsFast(t *testing.T) {
	scn, _ := Preset("lecture", PresetParams{Subscribers: 1})
	scn.Duration = 2 * time.Second
	_, err := Run(context.Background(), Options{Scenario: scn, RelayOnly: RelaySubscribers,
		TURNMetricsURL: strings.Replace(closedPortURL(t), "ws://", "http://", 1) + "/metrics",
		Target:         Target{URL: "ws://127.0.0.1:1", APIKey: "k", APISecret: "s"}})
	if err == nil || !strings.Contains(err.Error(), "turn metrics") {
		t.Errorf("Run with an unreachable --turn-metrics = %v, want a turn metrics error", err)
	}
}
