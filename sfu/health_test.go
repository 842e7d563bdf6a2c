package sfu_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/pkg/version"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

type lksdkRoom = lksdk.Room

// httpGet fetches url with the operator token (so /metrics answers; other paths ignore it).
func httpGet(url string) (string, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+sfutest.MetricsToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func metricLines(body string) []string { return strings.Split(body, "\n") }

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHealthMetricsDrain: /healthz reports Atrium's version, /metrics counts rooms and
// participants, and cancelling Run fails readiness at once, refuses joins, and tells the
// remaining participants to leave when the drain deadline passes.
func TestHealthMetricsDrain(t *testing.T) {
	cfg := sfutest.Config()
	cfg.DrainTimeout = time.Second
	cfg.RTC.TCPAddr = "127.0.0.1:0" // ICE/TCP alongside the UDP mux
	srv, err := sfu.New(cfg, sfu.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer cancel()
	base := "http://" + srv.Addr().String()
	eventually(t, 2*time.Second, "readiness", func() bool { return status(t, base+"/readyz") == 200 })

	body, err := httpGet(base + "/healthz")
	var health struct{ Status, Version string }
	if err != nil || json.Unmarshal([]byte(body), &health) != nil || health.Status != "ok" || health.Version != version.Version {
		t.Errorf("/healthz = %q (%v), want status ok and version %q", body, err, version.Version)
	}

	disconnected := make(chan struct{})
	token := sfutest.TokenFor(sfu.DevAPIKey, sfu.DevAPISecret, "r", "alice")
	room, err := lksdk.ConnectToRoomWithToken("ws://"+srv.Addr().String(), token,
		&lksdk.RoomCallback{OnDisconnected: func() { close(disconnected) }}, lksdk.WithConnectTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer room.Disconnect()
	eventually(t, 5*time.Second, "metrics to show the participant", func() bool {
		m, _ := httpGet(base + "/metrics")
		return contains(metricLines(m), "atrium_sfu_participants 1") && contains(metricLines(m), "atrium_sfu_rooms 1") &&
			// observed when the server's side of the PeerConnection connects, a moment after the client's
			contains(metricLines(m), "atrium_sfu_join_latency_seconds_count 1")
	})
	m, _ := httpGet(base + "/metrics")
	for _, name := range []string{"atrium_sfu_media_forward_latency_seconds_bucket", "atrium_sfu_media_packets_in_total"} {
		if !strings.Contains(m, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	cancel()
	eventually(t, 500*time.Millisecond, "readiness to fail", func() bool { return status(t, base+"/readyz") == http.StatusServiceUnavailable })
	// A draining node starts no room, but its running rooms still admit participants.
	newRoom := sfutest.TokenFor(sfu.DevAPIKey, sfu.DevAPISecret, "another", "bob")
	if code := status(t, base+"/rtc/validate?access_token="+newRoom); code != http.StatusServiceUnavailable {
		t.Errorf("validate for a new room while draining = %d, want 503", code)
	}
	if code := status(t, base+"/rtc/validate?access_token="+token); code != http.StatusOK {
		t.Errorf("validate for a running room while draining = %d, want 200", code)
	}
	select {
	case <-disconnected:
	case <-time.After(5 * time.Second):
		t.Errorf("participant not disconnected after the drain deadline")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after drain")
	}
}
