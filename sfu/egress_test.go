package sfu_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// The node serves LiveKit's Egress API when egress.redis_addr is set (the recorders' job
// store, pkg/egress): server-sdk-go's EgressClient lists through it, and a token without the
// roomRecord grant is refused. (Recording itself is tested in recorder/.)
func TestEgressAPIMounted(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Egress.RedisAddr = "127.0.0.1:6379" // scripts/services.sh
		c.Egress.KeyPrefix = fmt.Sprintf("test:egress:%d", time.Now().UnixNano())
	}))
	ec := lksdk.NewEgressClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	res, err := ec.ListEgress(context.Background(), &livekit.ListEgressRequest{RoomName: "nothing-here"})
	if err != nil {
		t.Fatalf("ListEgress through the SFU: %v", err)
	}
	if len(res.Items) != 0 {
		t.Errorf("ListEgress = %v, want none", res.Items)
	}
	// No egress API without the setting: 404 from the mux, not a Twirp answer.
	plain := sfutest.Serve(t)
	_, err = lksdk.NewEgressClient(plain.HTTPURL(), plain.APIKey(), plain.APISecret()).
		ListEgress(context.Background(), &livekit.ListEgressRequest{})
	var te twirp.Error
	if err == nil || (errors.As(err, &te) && te.Code() != twirp.BadRoute && te.Code() != twirp.NotFound && te.Code() != twirp.Internal && te.Code() != twirp.Unimplemented) {
		t.Errorf("ListEgress on a node without egress settings: %v, want a not-found error", err)
	}
}
