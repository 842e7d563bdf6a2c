package sfu_test

import (
	"os"
	"testing"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

func TestMain(m *testing.M) {
	// The SDK's own logs are noise here (the server's go to t.Log), and its default pion
	// log adapter races with pion under -race: see sfutest.QuietSDK.
	sfutest.QuietSDK()
	os.Exit(m.Run())
}
