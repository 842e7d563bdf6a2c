package sfu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/ids"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

func TestJoin(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "class", "alice", nil, sfutest.Name("Alice"), sfutest.Metadata(`{"role":"teacher"}`))

	if !ids.Valid(alice.SID(), ids.RoomPrefix) {
		t.Errorf("room sid = %q, want RM_…", alice.SID())
	}
	lp := alice.LocalParticipant
	if !ids.Valid(lp.SID(), ids.ParticipantPrefix) {
		t.Errorf("participant sid = %q, want PA_…", lp.SID())
	}
	if lp.Identity() != "alice" || lp.Name() != "Alice" || lp.Metadata() != `{"role":"teacher"}` {
		t.Errorf("participant = %q/%q/%q, want alice/Alice/metadata", lp.Identity(), lp.Name(), lp.Metadata())
	}
	if alice.Name() != "class" {
		t.Errorf("room name = %q, want class", alice.Name())
	}
	info := alice.ServerInfo()
	if info == nil || info.Version != sfu.LiveKitVersion || info.Protocol != sfu.ProtocolVersion || !strings.HasPrefix(info.DebugInfo, "atrium ") {
		t.Errorf("server info = %v, want version %s protocol %d and atrium debug info", info, sfu.LiveKitVersion, sfu.ProtocolVersion)
	}

	bob := join(t, srv, "class", "bob", nil)
	eventually(t, 5*time.Second, "alice to see bob", func() bool { return alice.GetParticipantByIdentity("bob") != nil })
	if got := len(bob.GetRemoteParticipants()); got != 1 {
		t.Errorf("bob sees %d participants, want 1 (alice)", got)
	}
	if p := bob.GetParticipantByIdentity("alice"); p == nil || p.Name() != "Alice" {
		t.Errorf("bob's view of alice = %v, want name Alice", p)
	}
}
