package sfu_test

import (
	"os"
	"testing"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestMain(m *testing.M) {
	// The SDK's own logs (and its pion's) are noise here; the server's go to t.Log.
	lksdk.SetLogger(logger.GetDiscardLogger())
	os.Exit(m.Run())
}
