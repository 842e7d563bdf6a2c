package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 4: a drained node keeps its rooms until the deadline; a room that ends before it
// is untouched, a room still running at it moves to another node with every participant,
// and media flows again. A cancelled drain puts the node back in service.
func TestDrainMovesRoomsAtDeadline(t *testing.T) {
	skipUnderRace(t)
	tc := clustertest.Start(t, clustertest.Options{Nodes: 3})
	ctx := context.Background()
	drained := tc.Nodes[0]
	// Pin both rooms on the node to drain, as a placer would have.
	for _, room := range []string{"short", "long"} {
		if owner, err := tc.Leases.Acquire(ctx, room, drained.NodeID(), 30*time.Second); err != nil || owner != drained.NodeID() {
			t.Fatalf("Acquire(%s) = %q, %v", room, owner, err)
		}
	}
	short1 := join(t, tc.GatewayURL(), tc.Token("short", "s1"), "s1", true)
	short2 := join(t, drained.URL(), tc.Token("short", "s2"), "s2", true)
	var long []*peer
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("l%d", i)
		url := tc.GatewayURL()
		if i == 0 {
			url = drained.URL() // connected straight to the drained node
		}
		long = append(long, join(t, url, tc.Token("long", id), id, true))
	}
	for _, p := range append([]*peer{short1, short2}, long...) {
		if p.serverNode() != drained.NodeID() {
			t.Fatalf("%s on %s, want %s", p.identity, p.serverNode(), drained.NodeID())
		}
		p.waitMedia(t, 10*time.Second)
	}

	const deadline = 4 * time.Second
	started := time.Now()
	drainCall(t, drained, http.MethodPost, "?deadline="+deadline.String(), http.StatusOK)
	if code := httpStatus(t, drained.HTTPURL()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining = %d, want 503", code)
	}
	clustertest.WaitFor(t, 5*time.Second, "gossip to show the node draining", func() bool {
		m, ok := memberOf(tc.Gateway.Members(), drained.NodeID())
		return ok && m.State == cluster.StateDraining
	})
	// No new room lands on the draining node.
	api := lksdk.NewRoomServiceClient(tc.GatewayHTTP(), sfu.DevAPIKey, sfu.DevAPISecret)
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("new-%d", i)
		if _, err := api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		if o := tc.Owner(name); o == drained.NodeID() {
			t.Errorf("room %s placed on the draining node", name)
		}
	}
	// The short class ends before the deadline: nobody in it was disturbed.
	time.Sleep(500 * time.Millisecond)
	if short1.disconn.Load() || short2.disconn.Load() {
		t.Fatalf("a participant of the short room was disconnected before the deadline")
	}
	short1.close()
	short2.close()

	// At the deadline the long class moves, whole, and its media flows again.
	clustertest.WaitFor(t, deadline+10*time.Second, "the long room to move to another node", func() bool {
		o := tc.Owner("long")
		return o != "" && o != drained.NodeID()
	})
	moved := time.Since(started)
	newOwner := tc.Owner("long")
	for _, p := range long {
		clustertest.WaitFor(t, 15*time.Second, p.identity+" to rejoin on "+newOwner, func() bool { return p.serverNode() == newOwner })
		p.waitMedia(t, 10*time.Second)
	}
	t.Logf("drain: deadline %s, room moved after %s, media back for all %d participants after %s",
		deadline, moved.Round(time.Millisecond), len(long), time.Since(started).Round(time.Millisecond))
	ps, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "long"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Participants) != len(long) {
		t.Errorf("moved room has %d participants, want %d", len(ps.Participants), len(long))
	}
	clustertest.WaitFor(t, 5*time.Second, "the drained node to be empty", func() bool {
		st := drainStatus(t, drained)
		return st.Participants == 0 && st.Rooms == 0
	})

	// Cancel: the two other nodes drain too, so no node takes a new room; then one drain is
	// cancelled and that node, the only serving one, takes the next room.
	other, third := tc.Nodes[1], tc.Nodes[2]
	for _, n := range []*sfutest.Server{other, third} {
		drainCall(t, n, http.MethodPost, "?deadline=1m", http.StatusOK)
		clustertest.WaitFor(t, 5*time.Second, "gossip to show "+n.NodeID()+" draining", func() bool {
			m, ok := memberOf(tc.Gateway.Members(), n.NodeID())
			return ok && m.State == cluster.StateDraining
		})
	}
	if _, err := api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "while-all-drain"}); err == nil {
		t.Errorf("a room was placed while every node drains (on %q)", tc.Owner("while-all-drain"))
	}
	drainCall(t, other, http.MethodDelete, "", http.StatusOK)
	if code := httpStatus(t, other.HTTPURL()+"/readyz"); code != http.StatusOK {
		t.Errorf("readyz after cancel = %d, want 200", code)
	}
	clustertest.WaitFor(t, 5*time.Second, "gossip to show the second node serving", func() bool {
		m, ok := memberOf(tc.Gateway.Members(), other.NodeID())
		return ok && m.State == cluster.StateServing
	})
	if _, err := api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "after-cancel"}); err != nil {
		t.Fatalf("CreateRoom after the cancel: %v", err)
	}
	if o := tc.Owner("after-cancel"); o != other.NodeID() {
		t.Errorf("room after the cancel placed on %q, want the node serving again, %s", o, other.NodeID())
	}
	drainCall(t, third, http.MethodDelete, "", http.StatusOK)
	drainCall(t, other, http.MethodDelete, "", http.StatusConflict) // nothing left to cancel
}

func memberOf(ms []cluster.Meta, id string) (cluster.Meta, bool) {
	for _, m := range ms {
		if m.NodeID == id {
			return m, true
		}
	}
	return cluster.Meta{}, false
}

func opsToken(s *sfutest.Server) string {
	return s.Token("", "ops", sfutest.Grant(func(g *auth.VideoGrant) { g.RoomCreate, g.RoomList = true, true }))
}

func drainCall(t *testing.T, s *sfutest.Server, method, query string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, s.HTTPURL()+"/admin/drain"+query, nil)
	req.Header.Set("Authorization", "Bearer "+opsToken(s))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s /admin/drain%s on %s = %d, want %d", method, query, s.NodeID(), resp.StatusCode, want)
	}
}

func drainStatus(t *testing.T, s *sfutest.Server) sfu.DrainStatus {
	return s.DrainStatus()
}

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The drain endpoint is an operator's: a participant's token cannot drain a node.
func TestDrainNeedsOperatorToken(t *testing.T) {
	s := sfutest.Serve(t)
	for _, tok := range []string{"", s.Token("r", "student")} {
		req, _ := http.NewRequest(http.MethodPost, s.HTTPURL()+"/admin/drain", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Errorf("drain with token %.8q = %d, want 401/403", tok, resp.StatusCode)
		}
	}
	if s.DrainStatus().Draining {
		t.Fatal("node drains after refused calls")
	}
}

// skipUnderRace skips tests whose server-sdk-go clients do full reconnects when the race
// detector is on: pion formats a receiver for a debug log line while configuring it (pion
// v4.2.26 onTrack, through livekit's pion log adapter), a race inside the client libraries,
// not in Atrium. These tests run without -race in make test-go; the rest of tests/cluster
// runs under -race in make test-race.
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("server-sdk-go full reconnects race inside pion's debug logging under -race; covered by make test-go")
	}
}
