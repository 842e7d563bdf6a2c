package egress_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/redis/go-redis/v9"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/egress"
)

const key, secret = "APIkey", "secret-of-at-least-32-characters!!"

func serve(t *testing.T) (*egress.Store, string) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	st := egress.NewStore(rdb, "test:egress:"+hex.EncodeToString(b[:]))
	mux := http.NewServeMux()
	mux.Handle(egress.PathPrefix, egress.NewHandler(egress.Params{Store: st, Keys: access.Keys{key: secret},
		Bucket: "recs"}))
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return st, s.URL
}

func client(url string, g *auth.VideoGrant) livekit.Egress {
	tok, _ := auth.NewAccessToken(key, secret).SetVideoGrant(g).ToJWT()
	return livekit.NewEgressProtobufClient(url, &http.Client{Transport: bearer{tok}})
}

type bearer struct{ tok string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return http.DefaultTransport.RoundTrip(r)
}

func hls(bucket string) []*livekit.SegmentedFileOutput {
	return []*livekit.SegmentedFileOutput{{FilenamePrefix: "c/1",
		Output: &livekit.SegmentedFileOutput_S3{S3: &livekit.S3Upload{Bucket: bucket}}}}
}

// Bad requests get the Twirp error a LiveKit client expects and create no job.
func TestHandlerRefuses(t *testing.T) {
	st, url := serve(t)
	ctx := context.Background()
	rec := &auth.VideoGrant{RoomRecord: true}
	cases := []struct {
		name  string
		grant *auth.VideoGrant
		req   *livekit.RoomCompositeEgressRequest
		code  twirp.ErrorCode
	}{
		{"no roomRecord", &auth.VideoGrant{RoomAdmin: true, Room: "r"},
			&livekit.RoomCompositeEgressRequest{RoomName: "r", SegmentOutputs: hls("")}, twirp.PermissionDenied},
		{"no room", rec, &livekit.RoomCompositeEgressRequest{SegmentOutputs: hls("")}, twirp.InvalidArgument},
		{"no output", rec, &livekit.RoomCompositeEgressRequest{RoomName: "r"}, twirp.InvalidArgument},
		{"mp4 file", rec, &livekit.RoomCompositeEgressRequest{RoomName: "r",
			FileOutputs: []*livekit.EncodedFileOutput{{Filepath: "x.mp4"}}}, twirp.Unimplemented},
		{"other bucket", rec, &livekit.RoomCompositeEgressRequest{RoomName: "r", SegmentOutputs: hls("elsewhere")},
			twirp.InvalidArgument},
		{"audio only", rec, &livekit.RoomCompositeEgressRequest{RoomName: "r", AudioOnly: true,
			SegmentOutputs: hls("")}, twirp.Unimplemented},
		{"prefix escapes", rec, &livekit.RoomCompositeEgressRequest{RoomName: "r",
			SegmentOutputs: []*livekit.SegmentedFileOutput{{FilenamePrefix: "../x"}}}, twirp.InvalidArgument},
	}
	for _, c := range cases {
		_, err := client(url, c.grant).StartRoomCompositeEgress(ctx, c.req)
		var te twirp.Error
		if !errors.As(err, &te) || te.Code() != c.code {
			t.Errorf("%s: StartRoomCompositeEgress err = %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := client(url, rec).StopEgress(ctx, &livekit.StopEgressRequest{EgressId: "EG_nope"}); twirpCode(err) != twirp.NotFound {
		t.Errorf("StopEgress(unknown) = %v, want not_found", err)
	}
	if jobs, err := st.List(ctx, "", false); err != nil || len(jobs) != 0 {
		t.Errorf("jobs after refused requests = %v, %v; want none", jobs, err)
	}
}

// A job is claimable by one holder at a time; stopping a job nobody started completes it.
func TestStoreLeaseAndStop(t *testing.T) {
	st, url := serve(t)
	ctx := context.Background()
	rec := &auth.VideoGrant{RoomRecord: true}
	info, err := client(url, rec).StartTrackCompositeEgress(ctx, &livekit.TrackCompositeEgressRequest{
		RoomName: "r", VideoTrackId: "TR_v", AudioTrackId: "TR_a", SegmentOutputs: hls("recs")})
	if err != nil {
		t.Fatal(err)
	}
	j, err := st.Get(ctx, info.EgressId)
	if err != nil || j.VideoTrack != "TR_v" || j.AudioTrack != "TR_a" || j.KeyPrefix != "c/1" {
		t.Fatalf("stored job = %+v, %v", j, err)
	}
	if ok, _ := st.Claim(ctx, j.ID, "a", 5e9); !ok {
		t.Fatal("first claim refused")
	}
	if ok, _ := st.Claim(ctx, j.ID, "b", 5e9); ok {
		t.Fatal("second holder claimed a held job")
	}
	if ok, _ := st.Renew(ctx, j.ID, "b", 5e9); ok {
		t.Fatal("non-holder renewed the lease")
	}
	_ = st.Release(ctx, j.ID, "a")
	if ok, _ := st.Claim(ctx, j.ID, "b", 5e9); !ok {
		t.Fatal("claim after release refused")
	}
	_ = st.Release(ctx, j.ID, "b")
	got, err := client(url, rec).StopEgress(ctx, &livekit.StopEgressRequest{EgressId: j.ID})
	if err != nil || got.Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("StopEgress of an unstarted job = %v, %v; want complete", got, err)
	}
	if open, _ := st.Open(ctx); len(open) != 0 {
		t.Errorf("open jobs after stop: %v", open)
	}
	if _, err := client(url, rec).StopEgress(ctx, &livekit.StopEgressRequest{EgressId: j.ID}); twirpCode(err) != twirp.FailedPrecondition {
		t.Errorf("second StopEgress = %v, want failed_precondition", err)
	}
}

func twirpCode(err error) twirp.ErrorCode {
	var te twirp.Error
	if errors.As(err, &te) {
		return te.Code()
	}
	return ""
}

// A token whose grant names a room acts on that room only: starting, stopping or listing
// another room's recordings is a permission error (a token minted for one class cannot
// touch another's), while a grant naming no room (LiveKit's EgressClient) covers all.
func TestHandlerChecksGrantRoom(t *testing.T) {
	st, url := serve(t)
	ctx := context.Background()
	unbound := client(url, &auth.VideoGrant{RoomRecord: true})
	forged := client(url, &auth.VideoGrant{RoomRecord: true, Room: "room-a"})
	other, err := unbound.StartRoomCompositeEgress(ctx, &livekit.RoomCompositeEgressRequest{RoomName: "room-b", SegmentOutputs: hls("")})
	if err != nil {
		t.Fatalf("unbound grant starting room-b: %v", err)
	}
	if _, err := forged.StartRoomCompositeEgress(ctx, &livekit.RoomCompositeEgressRequest{RoomName: "room-b",
		SegmentOutputs: hls("")}); twirpCode(err) != twirp.PermissionDenied {
		t.Errorf("room-a grant StartRoomCompositeEgress(room-b) = %v, want permission_denied", err)
	}
	if _, err := forged.StartTrackCompositeEgress(ctx, &livekit.TrackCompositeEgressRequest{RoomName: "room-b",
		VideoTrackId: "TR_v", SegmentOutputs: hls("")}); twirpCode(err) != twirp.PermissionDenied {
		t.Errorf("room-a grant StartTrackCompositeEgress(room-b) = %v, want permission_denied", err)
	}
	if _, err := forged.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: other.EgressId}); twirpCode(err) != twirp.PermissionDenied {
		t.Errorf("room-a grant StopEgress(room-b's egress) = %v, want permission_denied", err)
	}
	if j, err := st.Get(ctx, other.EgressId); err != nil || j.State != egress.StateStarting {
		t.Errorf("room-b's job after a refused stop: %+v, %v; want it untouched", j, err)
	}
	if _, err := forged.ListEgress(ctx, &livekit.ListEgressRequest{RoomName: "room-b"}); twirpCode(err) != twirp.PermissionDenied {
		t.Errorf("room-a grant ListEgress(room-b) = %v, want permission_denied", err)
	}
	own, err := forged.StartRoomCompositeEgress(ctx, &livekit.RoomCompositeEgressRequest{RoomName: "room-a", SegmentOutputs: hls("")})
	if err != nil {
		t.Fatalf("room-a grant starting room-a: %v", err)
	}
	for _, req := range []*livekit.ListEgressRequest{{}, {EgressId: other.EgressId}, {EgressId: own.EgressId}} {
		got, err := forged.ListEgress(ctx, req)
		if err != nil {
			t.Fatalf("ListEgress(%v): %v", req, err)
		}
		for _, it := range got.Items {
			if it.RoomName != "room-a" {
				t.Errorf("room-a grant ListEgress(%v) lists %s of %s", req, it.EgressId, it.RoomName)
			}
		}
		if want := req.EgressId != other.EgressId; (len(got.Items) == 1) != want {
			t.Errorf("room-a grant ListEgress(%v) = %d items, want own egress only", req, len(got.Items))
		}
	}
	if _, err := forged.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: own.EgressId}); err != nil {
		t.Errorf("room-a grant stopping its own egress: %v", err)
	}
	if _, err := unbound.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: other.EgressId}); err != nil {
		t.Errorf("unbound grant stopping room-b's egress: %v", err)
	}
}
