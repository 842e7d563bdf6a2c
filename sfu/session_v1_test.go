package sfu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// serveV1 starts an SFU serving /rtc/v1.
func serveV1(t *testing.T) *sfutest.Server {
	return sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Signal.SinglePC = true }))
}

// v1Client is a single-PeerConnection LiveKit client written against pion the way
// livekit-client behaves on /rtc/v1: it always offers (its first offer travels in the
// join_request), pre-populates recvonly sections, answers MediaSectionsRequirement with a new
// offer, and sends data on its own channels.
type v1Client struct {
	t        *testing.T
	srv      *sfutest.Server
	room, id string
	pc       *webrtc.PeerConnection
	reliable *webrtc.DataChannel

	negMu   sync.Mutex  // one offer in flight
	done    atomic.Bool // the test ended: late requirements and writes are not failures
	wmu     sync.Mutex
	ws      *websocket.Conn
	join    *livekit.JoinResponse
	offerID uint32

	mu       sync.Mutex
	mids     map[string]string // the last answer's mid_to_track_id
	packets  map[string]int    // RTP packets received per track sid (from the stream id)
	data     []string
	reqs     []*livekit.MediaSectionsRequirement
	answers  []*livekit.SessionDescription
	reconn   int
	ignore   int               // requirements still to ignore (a client that drops them while restarting)
	lastDirs map[string]string // mid -> direction in the last answer
}

func newV1Client(t *testing.T, srv *sfutest.Server, room, id string, audios, videos int) *v1Client {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &v1Client{t: t, srv: srv, room: room, id: id, pc: pc, mids: map[string]string{}, packets: map[string]int{}}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		_, sid, _ := strings.Cut(tr.StreamID(), "|")
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			c.mu.Lock()
			c.packets[sid]++
			c.mu.Unlock()
		}
	})
	ordered := true
	if c.reliable, err = pc.CreateDataChannel("_reliable", &webrtc.DataChannelInit{Ordered: &ordered}); err != nil {
		t.Fatal(err)
	}
	c.reliable.OnMessage(func(msg webrtc.DataChannelMessage) {
		var pkt livekit.DataPacket
		if proto.Unmarshal(msg.Data, &pkt) == nil && pkt.GetUser() != nil {
			c.mu.Lock()
			c.data = append(c.data, pkt.ParticipantIdentity+":"+string(pkt.GetUser().Payload))
			c.mu.Unlock()
		}
	})
	c.addSections(audios, videos)
	offer := c.localOffer()
	c.dial(&livekit.JoinRequest{
		ClientInfo:         &livekit.ClientInfo{Sdk: livekit.ClientInfo_JS, Version: "test", Protocol: 16},
		ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: true},
		PublisherOffer:     offer,
	})
	return c
}

func (c *v1Client) addSections(audios, videos int) {
	for i := 0; i < audios+videos; i++ {
		kind := webrtc.RTPCodecTypeAudio
		if i >= audios {
			kind = webrtc.RTPCodecTypeVideo
		}
		if _, err := c.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			c.t.Fatal(err)
		}
	}
}

// localOffer creates and applies an offer, with every candidate in it (no client trickle).
func (c *v1Client) localOffer() *livekit.SessionDescription {
	c.t.Helper()
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		c.t.Fatal(err)
	}
	<-gathered
	c.offerID++
	return &livekit.SessionDescription{Type: "offer", Sdp: c.pc.LocalDescription().SDP, Id: c.offerID}
}

// dial opens /rtc/v1 with jr and starts reading; the first response must be a JoinResponse
// (or a ReconnectResponse when jr resumes).
func (c *v1Client) dial(jr *livekit.JoinRequest) {
	c.t.Helper()
	enc, err := access.EncodeJoinRequest(jr, true)
	if err != nil {
		c.t.Fatal(err)
	}
	u := fmt.Sprintf("%s/rtc/v1?access_token=%s&join_request=%s", c.srv.URL(), c.srv.Token(c.room, c.id), url.QueryEscape(enc))
	ws, resp, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		c.t.Fatalf("dial /rtc/v1: status %d: %v", status, err)
	}
	c.t.Cleanup(func() { c.done.Store(true); ws.Close() })
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, raw, err := ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("first response: %v", err)
	}
	first := &livekit.SignalResponse{}
	if err := proto.Unmarshal(raw, first); err != nil {
		c.t.Fatal(err)
	}
	ws.SetReadDeadline(time.Time{})
	switch {
	case first.GetJoin() != nil:
		c.join = first.GetJoin()
	case first.GetReconnect() != nil && jr.Reconnect:
		c.mu.Lock()
		c.reconn++
		c.mu.Unlock()
	default:
		c.t.Fatalf("first response %v", first)
	}
	c.wmu.Lock()
	c.ws = ws
	c.wmu.Unlock()
	go c.read(ws)
}

func (c *v1Client) read(ws *websocket.Conn) {
	for {
		_, raw, err := ws.ReadMessage()
		if err != nil {
			return
		}
		res := &livekit.SignalResponse{}
		if err := proto.Unmarshal(raw, res); err != nil {
			c.t.Logf("undecodable response: %v", err)
			continue
		}
		switch m := res.Message.(type) {
		case *livekit.SignalResponse_Answer:
			if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: m.Answer.Sdp}); err != nil {
				c.t.Errorf("apply answer %d: %v", m.Answer.Id, err)
			}
			c.mu.Lock()
			c.mids = m.Answer.MidToTrackId
			c.answers = append(c.answers, m.Answer)
			c.lastDirs = directions(m.Answer.Sdp)
			c.mu.Unlock()
		case *livekit.SignalResponse_Trickle:
			if m.Trickle.Target != livekit.SignalTarget_PUBLISHER {
				c.t.Errorf("trickle for target %v on the single PC", m.Trickle.Target)
			}
			var ci webrtc.ICECandidateInit
			if json.Unmarshal([]byte(m.Trickle.CandidateInit), &ci) == nil {
				_ = c.pc.AddICECandidate(ci)
			}
		case *livekit.SignalResponse_MediaSectionsRequirement:
			c.mu.Lock()
			c.reqs = append(c.reqs, m.MediaSectionsRequirement)
			ignore := c.ignore > 0
			if ignore {
				c.ignore--
			}
			c.mu.Unlock()
			// As livekit-client: add the sections asked for and offer again.
			if !ignore {
				go c.renegotiate(int(m.MediaSectionsRequirement.NumAudios), int(m.MediaSectionsRequirement.NumVideos))
			}
		case *livekit.SignalResponse_Offer:
			c.t.Errorf("the server offered on the single-PC path")
		}
	}
}

// directions maps each mid of an SDP to its direction attribute.
func directions(s string) map[string]string {
	out := map[string]string{}
	mid := ""
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, "a=mid:"); ok {
			mid = v
		}
		switch line {
		case "a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive":
			if mid != "" {
				out[mid] = line[2:]
			}
		}
	}
	return out
}

func (c *v1Client) send(req *livekit.SignalRequest) {
	raw, err := proto.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, raw); err != nil && !c.done.Load() {
		c.t.Errorf("write: %v", err)
	}
}

// renegotiate adds sections and offers again (what livekit-client does on a requirement).
// One offer at a time: the next waits for the answer to this one.
func (c *v1Client) renegotiate(audios, videos int) {
	c.negMu.Lock()
	defer c.negMu.Unlock()
	// It runs on its own goroutine and may outlive the test (a requirement arriving while
	// the test cleans up): then the closed PeerConnection is no failure.
	if c.done.Load() || c.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return
	}
	for i := 0; i < audios+videos; i++ {
		kind := webrtc.RTPCodecTypeAudio
		if i >= audios {
			kind = webrtc.RTPCodecTypeVideo
		}
		if _, err := c.pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			if !c.done.Load() {
				c.t.Errorf("add section: %v", err)
			}
			return
		}
	}
	offer, err := c.pc.CreateOffer(nil)
	if err == nil {
		gathered := webrtc.GatheringCompletePromise(c.pc)
		if err = c.pc.SetLocalDescription(offer); err == nil {
			<-gathered
		}
	}
	if err != nil {
		if !c.done.Load() {
			c.t.Errorf("offer: %v", err)
		}
		return
	}
	c.offerID++
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: c.pc.LocalDescription().SDP, Id: c.offerID}}})
	deadline := time.Now().Add(5 * time.Second)
	for c.pc.SignalingState() != webrtc.SignalingStateStable && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *v1Client) received(sid string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.packets[sid]
}

func (c *v1Client) midOf(sid string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for mid, s := range c.mids {
		if s == sid {
			return mid
		}
	}
	return ""
}

func (c *v1Client) requirements() []*livekit.MediaSectionsRequirement {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*livekit.MediaSectionsRequirement(nil), c.reqs...)
}

// TestSinglePCEndpoints: /rtc/v1 and /rtc/v1/validate answer 404 while signal.single_pc is
// off (livekit-client then falls back to /rtc); on, validate checks the token and the
// join_request, and a malformed join_request is refused with 400 and says why.
func TestSinglePCEndpoints(t *testing.T) {
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good, err := access.EncodeJoinRequest(&livekit.JoinRequest{ClientInfo: &livekit.ClientInfo{Protocol: 16}}, true)
	if err != nil {
		t.Fatal(err)
	}
	off := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Signal.SinglePC = false }))
	tok := off.Token("r", "a")
	for _, path := range []string{"/rtc/v1", "/rtc/v1/validate"} {
		if st, _ := get(off.HTTPURL() + path + "?access_token=" + tok + "&join_request=" + url.QueryEscape(good)); st != http.StatusNotFound {
			t.Errorf("single_pc off: %s answered %d, want 404", path, st)
		}
	}

	on := serveV1(t)
	tok = on.Token("r", "a")
	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"access_token=" + tok + "&join_request=" + url.QueryEscape(good), 200, "success"},
		{"access_token=" + tok + "&join_request=" + strings.TrimRight(good, "="), 200, "success"},
		{"access_token=" + tok + "&join_request=%21%21", 400, "join_request is not base64url"},
		{"access_token=" + tok, 400, "missing join_request"},
		{"access_token=" + tok + "&join_request=" + url.QueryEscape("AAAA"), 400, "join_request"},
		{"join_request=" + url.QueryEscape(good), 401, "no access token"},
	} {
		st, body := get(on.HTTPURL() + "/rtc/v1/validate?" + tc.query)
		if st != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("validate %.60s: %d %q, want %d containing %q", tc.query, st, body, tc.code, tc.body)
		}
	}
	// The WebSocket refuses the same way, before upgrading.
	u := strings.Replace(on.URL(), "ws://", "http://", 1) + "/rtc/v1?access_token=" + tok + "&join_request=%21%21"
	if st, body := get(u); st != http.StatusBadRequest || !strings.Contains(body, "join_request") {
		t.Errorf("/rtc/v1 with a bad join_request: %d %q, want 400 naming join_request", st, body)
	}
}

// TestSinglePCJoinSubscribeData: a v1 client joining a room with tracks gets protocol 16
// and subscriber_primary false, has both tracks bound to the sections of the offer it sent
// with the join (named in mid_to_track_id, stream id PA_…|TR_…), receives their media on its
// one PeerConnection, and exchanges data with a /rtc participant over its own channels.
func TestSinglePCJoinSubscribeData(t *testing.T) {
	srv := serveV1(t)
	var (
		gotMu sync.Mutex
		got   []string
	)
	alice := join(t, srv, "r", "alice", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataPacket: func(d lksdk.DataPacket, p lksdk.DataReceiveParams) {
			if u, ok := d.(*lksdk.UserDataPacket); ok {
				gotMu.Lock()
				got = append(got, p.SenderIdentity+":"+string(u.Payload))
				gotMu.Unlock()
			}
		},
	}})
	cam := publishSynth(t, alice, vp8Cap, "cam")
	mic := publishSynth(t, alice, opusCap, "mic")
	carol := join(t, srv, "r", "carol", nil)
	eventually(t, 10*time.Second, "alice's tracks to be published", func() bool {
		return remotePub(carol, "alice", cam.pub.SID()) != nil && remotePub(carol, "alice", mic.pub.SID()) != nil
	})

	bob := newV1Client(t, srv, "r", "bob", 3, 3)
	if p := bob.join.GetServerInfo().GetProtocol(); p != sfu.ProtocolVersionSinglePC {
		t.Errorf("protocol %d on /rtc/v1, want %d", p, sfu.ProtocolVersionSinglePC)
	}
	if bob.join.SubscriberPrimary {
		t.Error("subscriber_primary on the single-PC path")
	}
	for _, sid := range []string{cam.pub.SID(), mic.pub.SID()} {
		eventually(t, 10*time.Second, "bob to receive "+sid, func() bool { return bob.received(sid) > 10 })
		if bob.midOf(sid) == "" {
			t.Errorf("mid_to_track_id %v does not name %s", bob.mids, sid)
		}
	}
	if n := len(bob.requirements()); n != 0 {
		t.Errorf("%d MediaSectionsRequirement sent, the join offer had room for both tracks", n)
	}
	if bob.answers[0].Id != 1 {
		t.Errorf("first answer has id %d, want the join offer's 1", bob.answers[0].Id)
	}

	// Data: bob -> alice on bob's channel, alice -> bob back on the same channel.
	raw, _ := proto.Marshal(&livekit.DataPacket{Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: []byte("hi from bob")}}})
	eventually(t, 5*time.Second, "bob's reliable channel to open", func() bool { return bob.reliable.ReadyState() == webrtc.DataChannelStateOpen })
	if err := bob.reliable.Send(raw); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "alice to get bob's packet", func() bool {
		gotMu.Lock()
		defer gotMu.Unlock()
		return len(got) == 1 && got[0] == "bob:hi from bob"
	})
	if err := alice.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("hi from alice")), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bob to get alice's packet", func() bool {
		bob.mu.Lock()
		defer bob.mu.Unlock()
		return len(bob.data) == 1 && bob.data[0] == "alice:hi from alice"
	})
}

// TestSinglePCMediaSections: a v1 client without free sections is asked for the ones it
// lacks (MediaSectionsRequirement) and receives the track once it offered them; when the
// track goes it is asked to offer again (0, 0) and the section is answered inactive; the
// next track reuses that section, in a later answer.
func TestSinglePCMediaSections(t *testing.T) {
	srv := serveV1(t)
	bob := newV1Client(t, srv, "r", "bob", 0, 0)
	alice := join(t, srv, "r", "alice", nil)
	cam := publishSynth(t, alice, vp8Cap, "cam")
	sid := cam.pub.SID()
	eventually(t, 10*time.Second, "bob to receive the camera", func() bool { return bob.received(sid) > 10 })
	if r := bob.requirements(); len(r) != 1 || r[0].NumVideos != 1 || r[0].NumAudios != 0 {
		t.Fatalf("requirements %v, want one for a video section", r)
	}
	mid := bob.midOf(sid)

	if err := srv.UnpublishTrack("r", "alice", sid); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the section answered inactive", func() bool {
		bob.mu.Lock()
		defer bob.mu.Unlock()
		return bob.lastDirs[mid] == "inactive" && bob.mids[mid] == ""
	})
	if r := bob.requirements(); len(r) != 2 || r[1].NumVideos != 0 || r[1].NumAudios != 0 {
		t.Fatalf("requirements %v, want a second one for no new section", r)
	}

	cam2 := publishSynth(t, alice, vp8Cap, "cam2")
	eventually(t, 10*time.Second, "bob to receive the new camera on the freed section", func() bool {
		return bob.received(cam2.pub.SID()) > 10 && bob.midOf(cam2.pub.SID()) == mid
	})
	if r := bob.requirements(); len(r) != 3 || r[2].NumVideos != 0 {
		t.Fatalf("requirements %v, want the third to reuse the freed section", r)
	}
}

// TestSinglePCResume: a v1 client whose signal connection drops resumes with
// join_request{reconnect, participant_sid}: it gets a ReconnectResponse first, restarts ICE
// with an offer that is answered, and keeps receiving.
func TestSinglePCResume(t *testing.T) {
	srv := serveV1(t)
	alice := join(t, srv, "r", "alice", nil)
	cam := publishSynth(t, alice, vp8Cap, "cam")
	bob := newV1Client(t, srv, "r", "bob", 1, 1)
	sid := cam.pub.SID()
	eventually(t, 10*time.Second, "bob to receive the camera", func() bool { return bob.received(sid) > 10 })

	bob.negMu.Lock() // no requirement-driven offer meanwhile
	defer bob.negMu.Unlock()
	bob.wmu.Lock()
	bob.ws.Close()
	bob.wmu.Unlock()
	bob.dial(&livekit.JoinRequest{
		ClientInfo: &livekit.ClientInfo{Sdk: livekit.ClientInfo_JS, Protocol: 16},
		Reconnect:  true, ParticipantSid: bob.join.Participant.Sid,
		ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: true},
	})
	offer, err := bob.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	bob.offerID++
	bob.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: offer.SDP, Id: bob.offerID}}})
	eventually(t, 10*time.Second, "the ICE-restart offer answered", func() bool {
		bob.mu.Lock()
		defer bob.mu.Unlock()
		return bob.answers[len(bob.answers)-1].Id == bob.offerID
	})
	before := bob.received(sid)
	eventually(t, 10*time.Second, "bob to keep receiving", func() bool { return bob.received(sid) > before+20 })
	if bob.midOf(sid) == "" {
		t.Errorf("the resumed answer's mid_to_track_id %v lost the camera", bob.mids)
	}
}

// TestSinglePCRequirementRepeated: a client that drops a MediaSectionsRequirement (as
// livekit-client does while it restarts its session) is asked again, so its subscription is
// not left waiting for an offer that never comes.
func TestSinglePCRequirementRepeated(t *testing.T) {
	srv := serveV1(t)
	bob := newV1Client(t, srv, "r", "bob", 0, 0)
	bob.mu.Lock()
	bob.ignore = 1
	bob.mu.Unlock()
	alice := join(t, srv, "r", "alice", nil)
	cam := publishSynth(t, alice, vp8Cap, "cam")
	eventually(t, 10*time.Second, "bob to receive the camera after a second requirement", func() bool {
		return bob.received(cam.pub.SID()) > 10
	})
	if r := bob.requirements(); len(r) < 2 {
		t.Errorf("requirements %v, want the dropped one repeated", r)
	}
}
