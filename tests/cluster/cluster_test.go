// Package cluster_test checks Atrium's SFU cluster end to end: real SFU nodes and gateways
// joined by memberlist gossip on 127.0.0.1, room leases in memory or in a Redis the test
// starts, and real LiveKit SDK participants (docs/cluster.md).
package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 1: rooms created through the gateway spread over every node, and participants
// joining one room through different nodes meet in it and exchange media.
func TestPlacementSpreadAndCrossNodeJoin(t *testing.T) {
	tc := clustertest.Start(t, clustertest.Options{Nodes: 3})
	api := lksdk.NewRoomServiceClient(tc.GatewayHTTP(), sfu.DevAPIKey, sfu.DevAPISecret)
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if _, err := api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: fmt.Sprintf("class-%02d", i)}); err != nil {
			t.Fatalf("CreateRoom through the gateway: %v", err)
		}
	}
	perNode := map[string]int{}
	for i := 0; i < 30; i++ {
		perNode[tc.Owner(fmt.Sprintf("class-%02d", i))]++
	}
	t.Logf("rooms per node: %v", perNode)
	if len(perNode) != 3 {
		t.Fatalf("rooms landed on %d nodes, want all 3: %v", len(perNode), perNode)
	}
	counts := make([]int, 0, 3)
	for id, n := range perNode {
		counts = append(counts, n)
		// Each node really runs the rooms it owns.
		local := localRooms(t, tc, id)
		if local < n {
			t.Errorf("node %s owns %d rooms but runs %d", id, n, local)
		}
	}
	sort.Ints(counts)
	if counts[2] > 2*counts[0] {
		t.Errorf("unbalanced placement %v: the busiest node has more than twice the rooms of the idlest", perNode)
	}
	// ListRooms through the gateway sees all 30, whichever node runs them.
	res, err := api.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rooms) != 30 {
		t.Errorf("ListRooms through the gateway = %d rooms, want 30", len(res.Rooms))
	}

	// Alice joins "physics" through node 1, Bob through node 3, Carol through the gateway:
	// wherever the room lives, they meet and hear each other.
	const room = "physics"
	alice := join(t, tc.Nodes[0].URL(), tc.Token(room, "alice"), "alice", true)
	bob := join(t, tc.Nodes[2].URL(), tc.Token(room, "bob"), "bob", true)
	carol := join(t, tc.GatewayURL(), tc.Token(room, "carol"), "carol", true)
	owner := tc.Owner(room)
	for _, p := range []*peer{alice, bob, carol} {
		if got := p.serverNode(); got != owner {
			t.Errorf("%s was served by %s, want the room's owner %s", p.identity, got, owner)
		}
		p.waitMedia(t, 10*time.Second)
	}
	clustertest.WaitFor(t, 5*time.Second, "everyone to see the two others", func() bool {
		return len(alice.room.GetRemoteParticipants()) == 2 && len(bob.room.GetRemoteParticipants()) == 2 &&
			len(carol.room.GetRemoteParticipants()) == 2
	})
	// The Twirp RoomService reaches the room from any node.
	for _, s := range tc.Nodes {
		c := lksdk.NewRoomServiceClient(s.HTTPURL(), sfu.DevAPIKey, sfu.DevAPISecret)
		ps, err := c.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: room})
		if err != nil {
			t.Fatalf("ListParticipants through %s: %v", s.NodeID(), err)
		}
		if len(ps.Participants) != 3 {
			t.Errorf("ListParticipants through %s = %d, want 3", s.NodeID(), len(ps.Participants))
		}
	}
	if _, err := api.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: room, Identity: "bob",
		TrackSid: firstTrackSID(bob), Muted: true}); err != nil {
		t.Errorf("MutePublishedTrack through the gateway: %v", err)
	}
	if _, err := api.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: "carol"}); err != nil {
		t.Fatalf("RemoveParticipant through the gateway: %v", err)
	}
	clustertest.WaitFor(t, 5*time.Second, "carol to be removed", func() bool { return carol.disconn.Load() })
}

func firstTrackSID(p *peer) string {
	for _, pub := range p.room.LocalParticipant.TrackPublications() {
		return pub.SID()
	}
	return ""
}

// localRooms counts the rooms node id runs itself (ListRooms scoped to the node).
func localRooms(t *testing.T, tc *clustertest.Cluster, id string) int {
	t.Helper()
	s := tc.Node(id)
	req, _ := http.NewRequest("POST", s.HTTPURL()+"/twirp/livekit.RoomService/ListRooms", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.Token("", "ops", sfutest.Grant(func(g *auth.VideoGrant) { g.RoomList = true })))
	req.Header.Set("X-Atrium-Scope", "node")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Rooms []json.RawMessage `json:"rooms"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("ListRooms on %s: %v", id, err)
	}
	return len(body.Rooms)
}

// Acceptance 6: 100 participants joining one new room at once through different nodes and
// the gateway end up in one room on one owner.
func TestRacingFirstJoins(t *testing.T) {
	leases := clustertest.RedisLeases(t)
	tc := clustertest.Start(t, clustertest.Options{Nodes: 3, Leases: leases})
	const room = "race"
	urls := []string{tc.Nodes[0].URL(), tc.Nodes[1].URL(), tc.Nodes[2].URL(), tc.GatewayURL()}
	const n = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	servedBy := map[string]int{}
	rooms := map[string]bool{}
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			id := fmt.Sprintf("s%03d", i)
			// Signal-only joins (the WebSocket and its JoinResponse, no PeerConnection on this
			// side): the property is where the joins land, and 100 client PeerConnections
			// would measure the test machine under the race detector instead.
			join, closeFn, err := signalJoin(urls[i%len(urls)], tc.Token(room, id, sfutest.CanPublish(false)))
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			mu.Lock()
			servedBy[join.GetServerInfo().GetNodeId()]++
			rooms[join.GetRoom().GetSid()] = true
			mu.Unlock()
			t.Cleanup(closeFn)
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("served by %v, room sids %d", servedBy, len(rooms))
	if len(servedBy) != 1 || len(rooms) != 1 {
		t.Fatalf("participants split over nodes %v and rooms %d; want one owner and one room", servedBy, len(rooms))
	}
	owner := tc.Owner(room)
	if servedBy[owner] != n {
		t.Errorf("owner %s served %d of %d", owner, servedBy[owner], n)
	}
	api := lksdk.NewRoomServiceClient(tc.GatewayHTTP(), sfu.DevAPIKey, sfu.DevAPISecret)
	ps, err := api.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: room})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Participants) != n {
		t.Errorf("room has %d participants, want %d", len(ps.Participants), n)
	}
}

// Acceptance 7: a forged or expired token is refused by the gateway itself: no node sees
// the request (no node's routing counter moves, no room is placed).
func TestGatewayRefusesBadTokens(t *testing.T) {
	tc := clustertest.Start(t, clustertest.Options{Nodes: 2})
	forged := sfutest.TokenFor("devkey", "not-the-secret", "vault", "mallory")
	expired := tc.Nodes[0].Token("vault", "mallory", sfutest.TTL(-time.Hour))
	for name, tok := range map[string]string{"forged": forged, "expired": expired, "empty": ""} {
		for _, path := range []string{"/rtc/validate", "/rtc"} {
			resp, err := http.Get(tc.GatewayHTTP() + path + "?access_token=" + tok)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s token on %s: status %d, want 401", name, path, resp.StatusCode)
			}
		}
	}
	// The gateway counted them, so the zero on the nodes is not a counter that never moves.
	if got := counterSum(t, tc.Gateway.Registry(), "atrium_signal_routes_total"); got < 6 {
		t.Errorf("gateway counted %v refused requests, want 6", got)
	}
	if o := tc.Owner("vault"); o != "" {
		t.Errorf("a bad token placed room vault on %s", o)
	}
	for _, s := range tc.Nodes {
		if got := routeCount(t, s); got != 0 {
			t.Errorf("node %s routed %v signal requests; bad tokens must stop at the gateway", s.NodeID(), got)
		}
	}
}

// routeCount sums atrium_sfu_signal_routes_total on a node (read from its registry: /metrics
// on the public port needs the operator's metrics token).
func routeCount(t *testing.T, s *sfutest.Server) float64 {
	t.Helper()
	return counterSum(t, s.Registry(), "atrium_sfu_signal_routes_total")
}

func counterSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// signalJoin opens a LiveKit signal connection to base (ws://) with token and returns the
// JoinResponse; closeFn ends the connection.
func signalJoin(base, token string) (*livekit.JoinResponse, func(), error) {
	d := websocket.Dialer{HandshakeTimeout: 20 * time.Second}
	c, resp, err := d.Dial(base+"/rtc?auto_subscribe=0&protocol=15&sdk=go&access_token="+token, nil)
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, nil, fmt.Errorf("dial: %w", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("read: %w", err)
		}
		var res livekit.SignalResponse
		if err := proto.Unmarshal(msg, &res); err != nil {
			c.Close()
			return nil, nil, fmt.Errorf("decode: %w", err)
		}
		if j := res.GetJoin(); j != nil {
			// Keep reading (and answering pings) in the background until closed.
			_ = c.SetReadDeadline(time.Time{})
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			return j, func() { c.Close() }, nil
		}
	}
}
