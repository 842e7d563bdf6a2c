package media

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind (pion
// PeerConnections, ReadFrom loops, RTCP readers): everything must stop on
// Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
