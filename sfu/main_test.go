package sfu_test

import (
	"os"
	"testing"

	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestMain(m *testing.M) {
	// The SDK's own logs (and its pion's) are noise here; the server's go to t.Log. A zap
	// logger at error level (not the discard logger) matters: its pion adapter skips
	// formatting disabled levels, while formatting pion's debug logs of live tracks races
	// with pion itself (a data race inside the SDK, not in Atrium).
	l, err := logger.NewZapLogger(&logger.Config{Level: "error"})
	if err != nil {
		panic(err)
	}
	lksdk.SetLogger(l)
	os.Exit(m.Run())
}
