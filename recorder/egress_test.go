package recorder_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestEgressClientStartsAndStopsHLS is acceptance check 6 of issue 11: server-sdk-go's
// EgressClient starts a room-composite egress with a segmented HLS output through
// pkg/egress's Twirp handler, a recorder claims and records it, ListEgress shows it active,
// StopEgress completes it, and signed LiveKit-format egress_started / egress_ended webhooks
// arrive in that order.
func TestEgressClientStartsAndStopsHLS(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	publish(t, srv, "class-egress", "teacher")
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	store := egress.NewStore(rdb, "test:rec:"+randHex())

	var mu sync.Mutex
	var events []*livekit.WebhookEvent
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := webhook.ReceiveWebhookEvent(r, auth.NewSimpleKeyProvider(srv.APIKey(), srv.APISecret()))
		if err != nil {
			t.Errorf("webhook does not verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer hooks.Close()

	mux := http.NewServeMux()
	mux.Handle(egress.PathPrefix, egress.NewHandler(egress.Params{Store: store,
		Keys: access.Keys{srv.APIKey(): srv.APISecret()}, Bucket: s3.Bucket}))
	api := httptest.NewServer(mux)
	defer api.Close()

	rec := newRecorder(t, srv, s3, func(c *recorder.Config) { c.Webhook.URLs = []string{hooks.URL} })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- rec.Run(runCtx, store) }()
	defer func() { stopRun(); <-runDone }()

	ec := lksdk.NewEgressClient(api.URL, srv.APIKey(), srv.APISecret())
	info, err := ec.StartRoomCompositeEgress(ctx, &livekit.RoomCompositeEgressRequest{RoomName: "class-egress",
		SegmentOutputs: []*livekit.SegmentedFileOutput{{FilenamePrefix: "classes/7/rec", PlaylistName: "class.m3u8",
			Output: &livekit.SegmentedFileOutput_S3{S3: &livekit.S3Upload{}}}}})
	if err != nil {
		t.Fatalf("StartRoomCompositeEgress: %v", err)
	}
	if !strings.HasPrefix(info.EgressId, "EG_") || info.Status != livekit.EgressStatus_EGRESS_STARTING {
		t.Fatalf("started egress = %v", info)
	}
	var active *livekit.EgressInfo
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) && active == nil {
		list, err := ec.ListEgress(ctx, &livekit.ListEgressRequest{RoomName: "class-egress", Active: true})
		if err != nil {
			t.Fatalf("ListEgress: %v", err)
		}
		for _, it := range list.Items {
			if it.EgressId == info.EgressId && it.Status == livekit.EgressStatus_EGRESS_ACTIVE &&
				it.SegmentResults[0].SegmentCount >= 2 {
				active = it
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if active == nil {
		t.Fatal("egress never active with 2 segments")
	}
	if _, err := ec.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: info.EgressId}); err != nil {
		t.Fatalf("StopEgress: %v", err)
	}
	j := waitJob(t, store, info.EgressId, 30*time.Second, func(j egress.Job) bool { return j.State == egress.StateComplete })
	list, err := ec.ListEgress(ctx, &livekit.ListEgressRequest{EgressId: info.EgressId})
	if err != nil || len(list.Items) != 1 || list.Items[0].Status != livekit.EgressStatus_EGRESS_COMPLETE {
		t.Fatalf("ListEgress after stop = %v, %v", list, err)
	}
	if got := list.Items[0].SegmentResults[0].PlaylistName; got != "classes/7/rec/class.m3u8" {
		t.Errorf("playlist name %q", got)
	}
	pl, err := rec.Store().Get(ctx, "classes/7/rec/class.m3u8")
	if err != nil || !strings.HasSuffix(string(pl), "#EXT-X-ENDLIST\n") {
		t.Fatalf("VOD playlist: %v\n%s", err, pl)
	}
	if strings.Count(string(pl), "#EXTINF") != j.Segments {
		t.Errorf("playlist segments differ from job's %d:\n%s", j.Segments, pl)
	}
	// egress_ended follows the job's completion in the store: wait for it.
	deadline = time.Now().Add(5 * time.Second)
	var names []string
	for time.Now().Before(deadline) {
		mu.Lock()
		names = names[:0]
		for _, ev := range events {
			if ev.EgressInfo.GetEgressId() == info.EgressId {
				names = append(names, ev.Event)
			}
		}
		mu.Unlock()
		if len(names) >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Join(names, ",") != "egress_started,egress_ended" {
		t.Errorf("webhooks = %v, want egress_started,egress_ended", names)
	}
	mu.Lock()
	last := events[len(events)-1]
	mu.Unlock()
	if last.EgressInfo.GetStatus() != livekit.EgressStatus_EGRESS_COMPLETE || last.EgressInfo.SegmentResults[0].SegmentCount == 0 {
		t.Errorf("egress_ended info = %v", last.EgressInfo)
	}
}
