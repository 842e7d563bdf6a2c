package sfutest

import (
	"github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

// QuietSDK sets server-sdk-go's logger (process-wide) to errors only. Call it from TestMain
// in packages whose tests use the SDK under -race: the SDK's default pion log adapter formats
// pion's debug messages, which print live tracks, and that formatting races with pion itself
// (a data race inside the SDK that fails -race runs). A zap logger skips disabled levels
// before formatting.
func QuietSDK() {
	l, err := logger.NewZapLogger(&logger.Config{Level: "error"})
	if err != nil {
		panic("sfutest: " + err.Error())
	}
	lksdk.SetLogger(l)
}
