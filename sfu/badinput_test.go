package sfu_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// witness is an SDK participant that must stay connected through every bad input, and a
// check that the server still admits newcomers it sees.
type witness struct {
	srv  *sfutest.Server
	room *lksdk.Room
	n    int
}

func newWitness(t *testing.T, srv *sfutest.Server) *witness {
	return &witness{srv: srv, room: join(t, srv, "main", "witness", nil)}
}

func (w *witness) check(t *testing.T) {
	t.Helper()
	if st := w.room.ConnectionState(); st != lksdk.ConnectionStateConnected {
		t.Fatalf("witness connection state = %s after bad input", st)
	}
	w.n++
	id := "newcomer" + strings.Repeat("x", w.n)
	c := mustDialRaw(t, w.srv, "main", id)
	if !c.pingPong() {
		t.Fatalf("newcomer %s got no pong", id)
	}
	eventually(t, 5*time.Second, "witness to see "+id, func() bool { return w.room.GetParticipantByIdentity(id) != nil })
}

func TestBadInput(t *testing.T) {
	srv := sfutest.Serve(t)
	w := newWitness(t, srv)

	t.Run("malformed frame", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "mal")
		c.ws.WriteMessage(websocket.BinaryMessage, []byte{0xff, 0xff, 0xff, 0x07, 0x01})
		if code := c.closeCode(5 * time.Second); code != websocket.CloseInvalidFramePayloadData {
			t.Errorf("close code = %d, want %d (invalid payload)", code, websocket.CloseInvalidFramePayloadData)
		}
		w.check(t)
	})
	t.Run("malformed JSON text frame", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "maljson")
		c.ws.WriteMessage(websocket.TextMessage, []byte(`{"offer": 12`))
		if code := c.closeCode(5 * time.Second); code != websocket.CloseInvalidFramePayloadData {
			t.Errorf("close code = %d, want %d", code, websocket.CloseInvalidFramePayloadData)
		}
		w.check(t)
	})
	t.Run("oversized frame", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "big")
		c.ws.WriteMessage(websocket.BinaryMessage, bytes.Repeat([]byte{0x0a}, 2<<20))
		if code := c.closeCode(5 * time.Second); code != websocket.CloseMessageTooBig {
			t.Errorf("close code = %d, want %d (message too big)", code, websocket.CloseMessageTooBig)
		}
		w.check(t)
	})
	t.Run("unknown message type", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "future")
		// Field 999 (varint) is no SignalRequest field: a newer SDK's message.
		c.ws.WriteMessage(websocket.BinaryMessage, []byte{0xb8, 0x3e, 0x01})
		if !c.pingPong() {
			t.Errorf("connection unusable after an unknown message type")
		}
		w.check(t)
	})
	t.Run("JSON client", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "json")
		c.ws.WriteMessage(websocket.TextMessage, []byte(`{"ping": "12345"}`))
		mt, data, err := c.ws.ReadMessage()
		for err == nil && !strings.Contains(string(data), "pong") {
			mt, data, err = c.ws.ReadMessage()
		}
		if err != nil || mt != websocket.TextMessage {
			t.Errorf("JSON ping: got type %d %q err %v, want a text pong", mt, data, err)
		}
	})
	t.Run("garbage SDP", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "sdp")
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "v=banana\r\n"}}})
		leave := c.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool { return r.GetLeave() != nil })
		if leave == nil || leave.GetLeave().Reason != livekit.DisconnectReason_STATE_MISMATCH {
			t.Errorf("garbage SDP: got %v, want a leave with STATE_MISMATCH", leave)
		}
		w.check(t)
	})
	t.Run("answer without offer", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "answer")
		// The server's subscriber offer is in flight; an answer of garbage must not hurt others.
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{Type: "answer", Sdp: "garbage"}}})
		if leave := c.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool { return r.GetLeave() != nil }); leave == nil {
			t.Errorf("garbage answer: no leave")
		}
		w.check(t)
	})
	t.Run("trickle for unknown PC", func(t *testing.T) {
		c := mustDialRaw(t, srv, "main", "trickle")
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: `{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"}`, Target: livekit.SignalTarget(7),
		}}})
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: `not json`, Target: livekit.SignalTarget_PUBLISHER,
		}}})
		if !c.pingPong() {
			t.Errorf("connection unusable after a trickle for an unknown PC")
		}
		w.check(t)
	})
	t.Run("add_track without grant", func(t *testing.T) {
		c, _, err := dialRaw(t, srv, srv.Token("main", "nopub", sfutest.CanPublish(false)))
		if err != nil {
			t.Fatal(err)
		}
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{Cid: "c1", Type: livekit.TrackType_AUDIO}}})
		res := c.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool {
			return r.GetTrackPublished() != nil || r.GetRequestResponse() != nil
		})
		if res.GetRequestResponse().GetReason() != livekit.RequestResponse_NOT_ALLOWED {
			t.Errorf("add_track without canPublish: got %v, want NOT_ALLOWED", res)
		}
		w.check(t)
	})
}

func TestTokens(t *testing.T) {
	srv := sfutest.Serve(t)
	w := newWitness(t, srv)
	forged, err := access.NewToken{APIKey: srv.APIKey(), APISecret: "not-the-secret", Room: "main", Identity: "mallory"}.Mint()
	if err != nil {
		t.Fatal(err)
	}
	unknownKey, _ := access.NewToken{APIKey: "nokey", APISecret: "x", Room: "main", Identity: "mallory"}.Mint()
	tests := []struct {
		name, token string
		want        int
	}{
		{"forged", forged, http.StatusUnauthorized},
		{"unknown key", unknownKey, http.StatusUnauthorized},
		{"expired", srv.Token("main", "late", sfutest.TTL(-time.Minute)), http.StatusUnauthorized},
		{"no roomJoin", srv.Token("main", "x", sfutest.Grant(func(g *auth.VideoGrant) { g.RoomJoin = false })), http.StatusUnauthorized},
		{"garbage", "abc.def.ghi", http.StatusUnauthorized},
		{"missing", "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		if _, status, err := dialRaw(t, srv, tc.token); err == nil || status != tc.want {
			t.Errorf("%s token: status %d err %v, want %d", tc.name, status, err, tc.want)
		}
		resp, err := http.Get(srv.HTTPURL() + "/rtc/validate?access_token=" + tc.token)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s token: /rtc/validate = %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	// The SDK sees the refusal too.
	if _, err := lksdk.ConnectToRoomWithToken(srv.URL(), forged, &lksdk.RoomCallback{}, lksdk.WithConnectTimeout(3*time.Second)); err == nil {
		t.Errorf("SDK joined with a forged token")
	}
	// A token for another room lands there, never in "main".
	other := mustDialRaw(t, srv, "other", "visitor")
	if other.join.Room.Name != "other" || len(other.join.OtherParticipants) != 0 {
		t.Errorf("token for room other joined %q with %d others", other.join.Room.Name, len(other.join.OtherParticipants))
	}
	time.Sleep(200 * time.Millisecond)
	if w.room.GetParticipantByIdentity("visitor") != nil {
		t.Errorf("participant of room other visible in main")
	}
	w.check(t)
}

func TestDuplicateIdentity(t *testing.T) {
	srv := sfutest.Serve(t)
	bob := join(t, srv, "main", "bob", nil)
	reason := make(chan lksdk.DisconnectionReason, 1)
	first := join(t, srv, "main", "alice", &lksdk.RoomCallback{OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) { reason <- r }})
	firstSID := first.LocalParticipant.SID()
	second := join(t, srv, "main", "alice", nil)
	select {
	case r := <-reason:
		if r != lksdk.DuplicateIdentity {
			t.Errorf("older connection disconnected with %q, want %q", r, lksdk.DuplicateIdentity)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("older connection was not disconnected")
	}
	eventually(t, 5*time.Second, "bob to see the new alice", func() bool {
		p := bob.GetParticipantByIdentity("alice")
		return p != nil && p.SID() == second.LocalParticipant.SID() && p.SID() != firstSID
	})
	if n := len(bob.GetRemoteParticipants()); n != 1 {
		t.Errorf("bob sees %d participants, want 1", n)
	}
}
