package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// WriteTable prints res as the human-readable final table.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	p("scenario\t%s\tserver %s\troom %s", res.Scenario, res.Server, res.Room)
	p("participants\t%d\tpublishers %d\tsubscribers %d", res.Participants, res.Publishers, res.Subscribers)
	p("duration\t%.1f s\tsteady window %.1f s\t", res.DurationS, res.SteadyS)
	p("joins ok / failed\t%d / %d\tno media %d, dropped %d\t", res.Joins.OK, res.Joins.Failed, res.Joins.NoMedia, res.Joins.Dropped)
	pc := func(name string, x Percentiles) {
		p("%s (ms)\tp50 %.1f\tp95 %.1f\tp99 %.1f", name, x.P50, x.P95, x.P99)
	}
	pc("join ws->joined", res.Joins.WSToJoinedMs)
	pc("join joined->media", res.Joins.JoinedToFirstMediaMs)
	pc("join ws->media", res.Joins.WSToFirstMediaMs)
	for _, path := range res.Paths {
		pc("subscribers via "+path.Path+" ws->joined", path.WSToJoinedMs)
		pc("subscribers via "+path.Path+" ws->media", path.WSToFirstMediaMs)
	}
	p("\t\t\t")
	p("media\taudio\tvideo\t")
	k := func(name string, f func(k *KindResult) string) { p("%s\t%s\t%s\t", name, f(&res.Audio), f(&res.Video)) }
	k("packets sent", func(k *KindResult) string { return fmt.Sprint(k.SentPackets) })
	k("packets received", func(k *KindResult) string { return fmt.Sprint(k.ReceivedPackets) })
	k("subscribed tracks", func(k *KindResult) string { return fmt.Sprint(k.Tracks) })
	k("loss", func(k *KindResult) string { return fmt.Sprintf("%.3f%% (%d)", k.LossPercent, k.Lost) })
	k("undelivered at end", func(k *KindResult) string { return fmt.Sprint(k.UndeliveredAtEnd) })
	k("latency p50/p90 ms", func(k *KindResult) string { return fmt.Sprintf("%.2f / %.2f", k.Latency.P50, k.Latency.P90) })
	k("latency p99/max ms", func(k *KindResult) string { return fmt.Sprintf("%.2f / %.2f", k.Latency.P99, k.Latency.Max) })
	k("jitter ms", func(k *KindResult) string { return fmt.Sprintf("%.2f", k.JitterMs) })
	k("p50 first/last 10% subs", func(k *KindResult) string {
		if k.FanoutSkew == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f / %.2f", k.FanoutSkew.FirstTenthP50, k.FanoutSkew.LastTenthP50)
	})
	p("\t\t\t")
	p("loss overall\t%.3f%%\t\t", res.LossPercent)
	p("latency ms\tp50 %.2f  p90 %.2f\tp99 %.2f  max %.2f\t", res.Latency.P50, res.Latency.P90, res.Latency.P99, res.Latency.Max)
	p("bitrate in / out\t%s / %s b/s\t\t", si(res.BitrateIn), si(res.BitrateOut))
	p("packets in / out\t%s / %s pkt/s\t\t", si(res.PacketsInPerS), si(res.PacketsOutPerS))
	p("keyframes sent / requested\t%d / %d\t\t", res.Keyframes, res.KeyframeRequests)
	if res.Lean {
		p("subscribers\tlean (ICE, DTLS, SRTP; no PeerConnection, no RTCP)\t\t")
	} else {
		p("subscriber feedback\t%s\t\t", feedbackLabel(res.Feedback))
	}
	if s := res.ServerProcess; s != nil {
		p("server cpu\t%.2f s\t%.0f%% of a core\t", s.CPUSeconds, s.CPUPercent)
		p("server peak rss\t%s\tper subscriber %s\t", bytesIEC(s.PeakRSS), bytesIEC(s.RSSPerSubscriber))
		p("forwarded pkt per cpu-s\t%s\t%.2f us/pkt\t", si(s.ForwardedPerCPUSecond), s.CPUMicrosPerPacket)
		p("server waiting for cpu\t%.0f%%\t\t", s.WaitPercent)
	}
	if rr := res.Relay; rr != nil {
		p("relay-only\t%s\t%d participants\t", rr.Mode, rr.Participants)
		p("relayed packets (%s)\t%d\tto peer %d, from peer %d\t", rr.Source, rr.RelayedPackets, rr.ToPeer, rr.FromPeer)
		if rr.PID > 0 {
			p("turn cpu\t%.2f s\t%.0f%% of a core\t", rr.CPUSeconds, rr.CPUPercent)
			p("turn peak rss\t%s\twaiting for cpu %.0f%%\t", bytesIEC(rr.PeakRSS), rr.WaitPercent)
			p("relayed pkt per turn cpu-s\t%s\t%.2f us/pkt\t", si(rr.PerCPUSecond), rr.CPUMicrosPerPacket)
		}
	}
	p("tester cpu\t%.0f%% of %d core(s)\tsaturated %v\t", res.Tester.CPUPercent, res.Tester.Cores, res.Tester.Saturated)
	p("tester waiting for cpu\t%.0f%%\tload average %.1f\t", res.Tester.WaitPercent, res.LoadAverage)
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range res.Warnings {
		if _, err := fmt.Fprintf(w, "WARNING: %s\n", warn); err != nil {
			return err
		}
	}
	for _, e := range res.Joins.Errors {
		if _, err := fmt.Fprintf(w, "join error: %s\n", strings.TrimSpace(e)); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSONFile writes v as indented JSON to path ("-" is standard output).
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: json: %w", err)
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = os.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("bench: write %s: %w", path, err)
	}
	return nil
}

// feedbackLabel names the subscribers' RTCP in reports.
func feedbackLabel(f Feedback) string {
	switch f {
	case FeedbackBrowser:
		return "browser (RR, TWCC/50ms, NACK, PLI)"
	case FeedbackSDK:
		return "sdk (RR, TWCC/100ms, NACK)"
	case FeedbackNone:
		return "none (lean: no RTCP)"
	}
	return "-"
}
