package sigroute

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/placement"
)

var keys = access.Keys{"k": "0123456789abcdef0123456789abcdef"}

func token(t *testing.T, room string) string {
	t.Helper()
	tok, err := access.NewToken{APIKey: "k", APISecret: keys["k"], Room: room, Identity: "u"}.Mint()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// fakeLocator and fakeDirectory are fixed answers (fakes, named so) standing in for the
// placer and gossip, which tests/cluster exercises for real.
type fakeLocator struct {
	mu    sync.Mutex
	owner string
	err   error
	calls atomic.Int64
}

func (f *fakeLocator) Locate(context.Context, string) (string, error) {
	f.calls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owner, f.err
}

func (f *fakeLocator) set(owner string, err error) {
	f.mu.Lock()
	f.owner, f.err = owner, err
	f.mu.Unlock()
}

type fakeDirectory struct {
	mu  sync.Mutex
	url map[string]string
}

func (d *fakeDirectory) Member(id string) (cluster.Meta, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	u, ok := d.url[id]
	return cluster.Meta{NodeID: id, Role: cluster.RoleSFU, SignalURL: u}, ok
}
func (d *fakeDirectory) Alive(id string) bool { _, ok := d.Member(id); return ok }

// echoNode is an owner node: /rtc upgrades and echoes messages (pings answered by
// gorilla's default handler), /rtc/validate answers "success <hops>".
func echoNode(t *testing.T) *httptest.Server {
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("/rtc", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			_ = c.WriteMessage(mt, msg)
		}
	})
	mux.HandleFunc("/rtc/validate", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("success " + r.Header.Get(HopHeader)))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestBadTokensNeverReachTheLocator(t *testing.T) {
	loc := &fakeLocator{owner: "a"}
	rt := New(Params{Keys: keys, Locator: loc, Directory: &fakeDirectory{}})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	forged, _ := access.NewToken{APIKey: "k", APISecret: "wrong-secret-wrong-secret-wrong!", Room: "r", Identity: "u"}.Mint()
	noJoin, _ := access.NewToken{APIKey: "k", APISecret: keys["k"], Identity: "u", Grant: &auth.VideoGrant{RoomList: true}}.Mint()
	for name, tok := range map[string]string{"none": "", "forged": forged, "no roomJoin": noJoin, "garbage": "abc.def.ghi"} {
		resp, err := http.Get(srv.URL + "/rtc/validate?access_token=" + tok)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s token: %d, want 401", name, resp.StatusCode)
		}
	}
	if n := loc.calls.Load(); n != 0 {
		t.Errorf("Locate called %d times for bad tokens", n)
	}
}

// The WebSocket is proxied byte for byte: a 600 KB message and pings go through both ways.
func TestProxiesWebSocketAndLargeMessages(t *testing.T) {
	node := echoNode(t)
	rt := New(Params{Keys: keys, Locator: &fakeLocator{owner: "a"}, Directory: &fakeDirectory{url: map[string]string{"a": node.URL}}})
	gw := httptest.NewServer(rt)
	defer gw.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(gw.URL, "http")+"/rtc?access_token="+token(t, "r"), nil)
	if err != nil {
		t.Fatalf("dial through the router: %v", err)
	}
	defer c.Close()
	big := []byte(strings.Repeat("x", 600<<10))
	if err := c.WriteMessage(websocket.BinaryMessage, big); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage()
	if err != nil || len(got) != len(big) {
		t.Fatalf("echo = %d bytes, %v; want %d", len(got), err, len(big))
	}
	pong := make(chan struct{}, 1)
	c.SetPongHandler(func(string) error { pong <- struct{}{}; return nil })
	if err := c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	go func() { _, _, _ = c.ReadMessage() }()
	select {
	case <-pong:
	case <-time.After(3 * time.Second):
		t.Fatal("no pong through the proxy")
	}
}

// An owner that cannot be dialled (killed) holds the request until the room is placed on a
// live node, instead of failing the client's reconnect at once.
func TestWaitsForDeadOwnerToBeReplaced(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there any more
	node := echoNode(t)
	loc := &fakeLocator{owner: "dead"}
	dir := &fakeDirectory{url: map[string]string{"dead": deadURL, "b": node.URL}}
	rt := New(Params{Keys: keys, Locator: loc, Directory: dir, DialWait: 5 * time.Second})
	gw := httptest.NewServer(rt)
	defer gw.Close()
	time.AfterFunc(300*time.Millisecond, func() { loc.set("b", nil) }) // gossip declares it dead, the room moves
	start := time.Now()
	resp, err := http.Get(gw.URL + "/rtc/validate?access_token=" + token(t, "r"))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 64)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body[:n]), "success 1") {
		t.Fatalf("after the move: %d %q, want 200 from the new owner with one hop", resp.StatusCode, body[:n])
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("answered after %s: it did not wait for the move", d)
	}
}

func TestGivesUpAfterDialWait(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + ln.Addr().String()
	ln.Close()
	rt := New(Params{Keys: keys, Locator: &fakeLocator{owner: "dead"}, Directory: &fakeDirectory{url: map[string]string{"dead": deadURL}},
		DialWait: 300 * time.Millisecond})
	gw := httptest.NewServer(rt)
	defer gw.Close()
	resp, err := http.Get(gw.URL + "/rtc/validate?access_token=" + token(t, "r"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dead owner never replaced: %d, want 503", resp.StatusCode)
	}
}

func TestPlacementErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want int
	}{
		{placement.ErrUnavailable, http.StatusServiceUnavailable},
		{placement.ErrNoNode, http.StatusServiceUnavailable},
	} {
		rt := New(Params{Keys: keys, Locator: &fakeLocator{err: tt.err}, Directory: &fakeDirectory{}})
		gw := httptest.NewServer(rt)
		start := time.Now()
		resp, err := http.Get(gw.URL + "/rtc/validate?access_token=" + token(t, "r"))
		gw.Close()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want || time.Since(start) > 2*time.Second {
			t.Errorf("%v: %d after %s, want %d at once", tt.err, resp.StatusCode, time.Since(start), tt.want)
		}
	}
}

// A request that already took MaxHops proxies is not sent further (leases moving under it
// must not bounce it around forever); one for a room the node owns is served locally.
func TestHopLimitAndLocal(t *testing.T) {
	node := echoNode(t)
	local := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("local")) })
	loc := &fakeLocator{owner: "b"}
	rt := New(Params{Self: "a", Keys: keys, Locator: loc, Directory: &fakeDirectory{url: map[string]string{"b": node.URL}}, Local: local})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/rtc/validate?access_token="+token(t, "r"), nil)
	req.Header.Set(HopHeader, "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third hop: %d, want 503", resp.StatusCode)
	}
	loc.set("a", nil)
	resp, err = http.Get(srv.URL + "/rtc/validate?access_token=" + token(t, "r"))
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	n, _ := resp.Body.Read(b)
	resp.Body.Close()
	if string(b[:n]) != "local" {
		t.Errorf("own room answered %q, want the local handler", b[:n])
	}
}

// TestCORSHeadersNotDoubled: the gateway sets CORS headers before routing and the node sets
// its own; the browser must get one Access-Control-Allow-Origin, or it rejects the answer
// (livekit-client then could not fall back from /rtc/v1 through a gateway to nodes without it).
func TestCORSHeadersNotDoubled(t *testing.T) {
	node := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "*")
		http.NotFound(w, nil)
	}))
	defer node.Close()
	rt := New(Params{Keys: keys, Locator: &fakeLocator{owner: "a"}, Directory: &fakeDirectory{url: map[string]string{"a": node.URL}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		rt.ServeHTTP(w, r)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/rtc/validate?access_token=" + token(t, "r"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want the node's 404", resp.StatusCode)
	}
	if v := resp.Header.Values("Access-Control-Allow-Origin"); len(v) != 1 {
		t.Errorf("Access-Control-Allow-Origin %q, want exactly one value", v)
	}
	if v := resp.Header.Values("Access-Control-Expose-Headers"); len(v) != 1 {
		t.Errorf("Access-Control-Expose-Headers %q: the node's header must pass when the caller set none", v)
	}
}
