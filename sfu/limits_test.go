package sfu_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// countingBody yields n bytes of JSON-ish filler lazily and counts what was read.
type countingBody struct {
	n, read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	left := b.n.Load() - b.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > left {
		p = p[:left]
	}
	for i := range p {
		p[i] = ' '
	}
	b.read.Add(int64(len(p)))
	return len(p), nil
}

// postTwirp streams a body of size bytes (chunked, no Content-Length) to a RoomService
// method and returns the status and how much of the body the server consumed.
func postTwirp(t *testing.T, srv *sfutest.Server, token string, size int64, chunked bool) (int, int64) {
	t.Helper()
	body := &countingBody{}
	body.n.Store(size)
	var rd io.Reader = body
	req, err := http.NewRequest("POST", srv.HTTPURL()+"/twirp/livekit.RoomService/ListParticipants", rd)
	if err != nil {
		t.Fatal(err)
	}
	if !chunked {
		req.ContentLength = size
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Timeout: 20 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		// The server may close while we still write; what it consumed is what matters.
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "reset") {
			return 0, body.read.Load()
		}
		t.Fatalf("post: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, body.read.Load()
}

// Issue 17, finding 2: a participant's join token let a 512 MiB Twirp body be read whole
// before the grant check. A token without a room-API grant is refused unread, and an admin's
// body is capped.
func TestTwirpBodyAuthorizedBeforeRead(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Limits.MaxAPIBodyBytes = 64 << 10 }))
	const size = 256 << 20
	status, read := postTwirp(t, srv, srv.Token("class", "student"), size, true)
	if status != 0 && status != http.StatusForbidden {
		t.Errorf("join token: status %d, want 403", status)
	}
	// Socket buffers on loopback hold a few MB at most; the body is 256 MiB.
	if read > 32<<20 {
		t.Errorf("join token: server consumed %d MiB of the body before refusing it", read>>20)
	}

	admin := srv.Token("class", "ops", sfutest.RoomAdmin())
	status, _ = postTwirp(t, srv, admin, 1<<20, false)
	if status != http.StatusRequestEntityTooLarge {
		t.Errorf("admin, 1 MiB declared: status %d, want 413", status)
	}
	status, read = postTwirp(t, srv, admin, size, true)
	if status == http.StatusOK {
		t.Errorf("admin, 256 MiB chunked: status 200")
	}
	if read > 32<<20 {
		t.Errorf("admin, chunked: server consumed %d MiB past a 64 KiB cap", read>>20)
	}
	// A small admin request still works.
	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := api.ListRooms(ctx, &livekit.ListRoomsRequest{}); err != nil {
		t.Errorf("ListRooms: %v", err)
	}
}

// Issue 17, finding 4 (sizes and rate): 900 KiB metadata was accepted and fanned out, 60
// times. Oversized name, metadata and attributes are refused on both paths (signal and
// RoomService), and updates are rate-limited per participant.
func TestParticipantUpdateLimits(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Limits.MetadataUpdatesPerSecond = 1
		c.Limits.MetadataUpdateBurst = 5
	}))
	tok := srv.Token("class", "alice", sfutest.Grant(func(g *auth.VideoGrant) { g.SetCanUpdateOwnMetadata(true) }))
	alice, status, err := dialRaw(t, srv, tok)
	if err != nil {
		t.Fatalf("join: %d %v", status, err)
	}
	update := func(id uint32, name, meta string) *livekit.RequestResponse {
		alice.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{
			RequestId: id, Name: name, Metadata: meta}}})
		res := alice.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool {
			if rr := r.GetRequestResponse(); rr != nil && rr.RequestId == id {
				return true
			}
			u := r.GetUpdate()
			return u != nil && len(u.Participants) == 1 && u.Participants[0].Identity == "alice" && u.Participants[0].Metadata == meta
		})
		if res == nil {
			t.Fatalf("update %d: no answer", id)
		}
		return res.GetRequestResponse()
	}
	if rr := update(1, "", strings.Repeat("m", 900<<10)); rr == nil || rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED {
		t.Errorf("900 KiB metadata: %v, want LIMIT_EXCEEDED", rr)
	}
	if rr := update(2, strings.Repeat("n", 1000), "x"); rr == nil || rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED {
		t.Errorf("1000-byte name: %v, want LIMIT_EXCEEDED", rr)
	}
	accepted := 0
	for i := range 20 {
		if update(uint32(10+i), "", "meta-"+string(rune('a'+i))) == nil {
			accepted++
		}
	}
	// Burst 5 plus one per second over the loop (well under 10 s).
	if accepted < 5 || accepted > 15 {
		t.Errorf("%d of 20 rapid updates accepted, want the burst (5) plus ~1/s", accepted)
	}

	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, req := range map[string]*livekit.UpdateParticipantRequest{
		"metadata":   {Metadata: strings.Repeat("m", 900<<10)},
		"name":       {Name: strings.Repeat("n", 1000)},
		"attributes": {Attributes: map[string]string{"a": strings.Repeat("v", 70000)}},
	} {
		req.Room, req.Identity = "class", "alice"
		_, err := api.UpdateParticipant(ctx, req)
		var te twirp.Error
		if !errors.As(err, &te) || te.Code() != twirp.InvalidArgument {
			t.Errorf("UpdateParticipant with oversized %s: %v, want invalid_argument", name, err)
		}
	}
	if _, err := api.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "class", Metadata: strings.Repeat("m", 900<<10)}); err == nil {
		t.Error("UpdateRoomMetadata accepted 900 KiB")
	}
}

// Attributes sent over the signal connection (LiveKit SDKs' setAttributes) were read and
// dropped while an empty update was still fanned out; they are now applied, and capped like
// RoomService updates: an oversized set, or an oversized update, is refused.
func TestSignalAttributeUpdates(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Limits.MaxAttributesBytes = 1000 }))
	tok := srv.Token("class", "alice", sfutest.Grant(func(g *auth.VideoGrant) { g.SetCanUpdateOwnMetadata(true) }))
	alice, status, err := dialRaw(t, srv, tok)
	if err != nil {
		t.Fatalf("join: %d %v", status, err)
	}
	// update sends attrs and returns the RequestResponse, or nil once alice's own update
	// shows want.
	update := func(id uint32, attrs map[string]string, want map[string]string) *livekit.RequestResponse {
		t.Helper()
		alice.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{
			RequestId: id, Attributes: attrs}}})
		res := alice.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool {
			if rr := r.GetRequestResponse(); rr != nil && rr.RequestId == id {
				return true
			}
			u := r.GetUpdate()
			return u != nil && len(u.Participants) == 1 && u.Participants[0].Identity == "alice" && maps.Equal(u.Participants[0].Attributes, want)
		})
		if res == nil {
			t.Fatalf("update %d (%d attributes): no answer", id, len(attrs))
		}
		return res.GetRequestResponse()
	}
	if rr := update(1, map[string]string{"hand": "raised", "seat": "12"}, map[string]string{"hand": "raised", "seat": "12"}); rr != nil {
		t.Errorf("small attributes: %v, want them applied", rr)
	}
	if rr := update(2, map[string]string{"seat": ""}, map[string]string{"hand": "raised"}); rr != nil {
		t.Errorf("deleting an attribute: %v, want it applied", rr)
	}
	// The resulting set over the cap.
	if rr := update(3, map[string]string{"big": strings.Repeat("v", 995)}, nil); rr == nil || rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED {
		t.Errorf("attributes growing past 1000 bytes: %v, want LIMIT_EXCEEDED", rr)
	}
	// An update over the cap, even one that only deletes keys.
	dels := map[string]string{}
	for i := range 200 {
		dels[fmt.Sprintf("gone-%03d", i)] = ""
	}
	if rr := update(4, dels, nil); rr == nil || rr.Reason != livekit.RequestResponse_LIMIT_EXCEEDED {
		t.Errorf("a 1600-byte update of deletions: %v, want LIMIT_EXCEEDED", rr)
	}

	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := api.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "class", Identity: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"hand": "raised"}; !maps.Equal(p.Attributes, want) {
		t.Errorf("alice's attributes = %v, want %v (refused updates change nothing)", p.Attributes, want)
	}
}

// Issue 17, finding 4 (queues): room updates aimed at a participant that does not read its
// socket grew the SFU by 400 MiB. Its queue is bounded in bytes: it is disconnected and
// counted.
func TestSlowReaderDisconnected(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Limits.SignalQueueBytes = 256 << 10 }))
	// The victim's socket has a tiny receive buffer and is never read after the join.
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	ws, _, err := d.Dial(srv.URL()+"/rtc?access_token="+srv.Token("class", "victim")+"&protocol=15&sdk=go", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()

	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	eventually(t, 5*time.Second, "victim to join", func() bool {
		ps, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "class"})
		return err == nil && len(ps.Participants) == 1
	})
	meta := strings.Repeat("m", 60000)
	gone := false
	for i := 0; i < 400 && !gone; i++ {
		if _, err := api.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "class", Metadata: meta + string(rune('a'+i%26))}); err != nil {
			gone = true // the room closed with its only participant
			break
		}
		if i%20 == 19 {
			ps, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "class"})
			gone = err != nil || len(ps.Participants) == 0
		}
	}
	if !gone {
		eventually(t, 5*time.Second, "the slow reader to be disconnected", func() bool {
			ps, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "class"})
			return err != nil || len(ps.Participants) == 0
		})
	}
	m, _ := httpGet(srv.HTTPURL() + "/metrics")
	if !strings.Contains(m, "atrium_sfu_slow_clients_total 1") {
		t.Errorf("slow client not counted")
	}
}

// Issue 17, finding 12: the SFU's /metrics answered anyone on the public signal port. It
// needs the operator token there (404 with none configured), and MetricsAddr serves metrics
// and pprof on an internal listener.
func TestMetricsNotPublic(t *testing.T) {
	get := func(url, token string) int {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	open := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.MetricsToken = ""
		c.MetricsAddr = "127.0.0.1:0"
	}))
	if code := get(open.HTTPURL()+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("public /metrics without a configured token: %d, want 404", code)
	}
	internal := "http://" + open.MetricsAddr().String()
	if code := get(internal+"/metrics", ""); code != http.StatusOK {
		t.Errorf("internal /metrics: %d, want 200", code)
	}
	if code := get(internal+"/debug/pprof/cmdline", ""); code != http.StatusOK {
		t.Errorf("internal pprof: %d, want 200", code)
	}
	// The runtime's own figures are there too (make soak reads the live heap from them).
	res, err := http.Get(internal + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, name := range []string{"go_memstats_heap_alloc_bytes", "go_goroutines", "process_resident_memory_bytes", "atrium_sfu_participants"} {
		if !strings.Contains(string(body), "\n"+name+" ") {
			t.Errorf("internal /metrics has no %s", name)
		}
	}

	guarded := sfutest.Serve(t)
	if code := get(guarded.HTTPURL()+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("public /metrics without the token: %d, want 401", code)
	}
	if code := get(guarded.HTTPURL()+"/metrics", "guess"); code != http.StatusUnauthorized {
		t.Errorf("public /metrics with a wrong token: %d, want 401", code)
	}
	if code := get(guarded.HTTPURL()+"/metrics", sfutest.MetricsToken); code != http.StatusOK {
		t.Errorf("public /metrics with the token: %d, want 200", code)
	}
	if guarded.MetricsAddr() != nil {
		t.Errorf("MetricsAddr = %v without a configured address", guarded.MetricsAddr())
	}
}
