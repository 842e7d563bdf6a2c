package relay_test

import (
	"sync"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 3: the origin drops 2% of the RTP it sends on its relay links, at random
// (fault injection in the node, not the kernel). The relay nodes NACK the gaps and the
// origin answers from its buffer, so the students on the relay nodes see under 0.5% loss.
// Meanwhile every far student asks for a keyframe every 50 ms; the relay nodes and the
// origin collapse those, so the publisher gets at most one keyframe request per layer per
// throttle interval (500 ms).
func TestRelayRepairsLossAndCollapsesKeyframeRequests(t *testing.T) {
	tc := startCluster(t, 3, 2)
	url := tc.GatewayURL()
	teacher := connect(t, url, tc.Token("lossy", "teacher"), "teacher")
	teacher.publish(t)
	origin := teacher.node()
	var far []*client
	for i := 0; i < 5; i++ {
		id := "student-" + string(rune('a'+i))
		c := connect(t, url, tc.Token("lossy", id), id)
		if c.node() != origin {
			far = append(far, c)
		}
	}
	if len(far) != 4 {
		t.Fatalf("%d students on relay nodes, want 4", len(far))
	}
	for _, c := range far {
		clustertest.WaitFor(t, 15*time.Second, c.identity+" to receive audio and video", func() bool {
			return c.count(webrtc.RTPCodecTypeAudio) > 20 && c.count(webrtc.RTPCodecTypeVideo) > 20
		})
	}
	on := tc.Node(origin)
	retransBase := gauge(t, on.Registry(), "atrium_sfu_media_retransmits_total")
	on.SetRelayLoss(0.02)
	for _, c := range far {
		c.startLossCount()
	}

	// Keyframe storm from the far students.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range far {
		pub := c.publication(lksdk.TrackKindVideo)
		var tp *lksdk.RemoteParticipant
		for _, p := range c.room.GetRemoteParticipants() {
			if p.Identity() == "teacher" {
				tp = p
			}
		}
		if pub == nil || pub.TrackRemote() == nil || tp == nil {
			t.Fatalf("%s: no video from the teacher", c.identity)
		}
		ssrc := pub.TrackRemote().SSRC()
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					tp.WritePLI(ssrc)
				}
			}
		}()
	}
	var pliBase [3]int64
	for l := range pliBase {
		pliBase[l] = teacher.plis[l].Load()
	}
	start := time.Now()
	// About 8 s: 50 audio and ~20 video packets a second per student.
	clustertest.WaitFor(t, 30*time.Second, "600 packets recorded by every far student", func() bool {
		for _, c := range far {
			if _, total := c.loss(); total < 600 {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()
	on.SetRelayLoss(0)

	var lost, total int
	for _, c := range far {
		l, n := c.loss()
		t.Logf("%s on %s: %d of %d packets missing after repair", c.identity, c.node(), l, n)
		lost, total = lost+l, total+n
	}
	rate := float64(lost) / float64(total)
	retrans := gauge(t, on.Registry(), "atrium_sfu_media_retransmits_total") - retransBase
	t.Logf("far students: %.3f%% loss after repair (%d of %d); origin retransmitted %.0f packets", 100*rate, lost, total, retrans)
	if rate >= 0.005 {
		t.Errorf("loss after repair %.3f%%, want < 0.5%%", 100*rate)
	}
	if retrans == 0 {
		t.Errorf("the origin retransmitted nothing: the injected loss was not repaired by NACKs")
	}

	allowed := int64(elapsed/(500*time.Millisecond)) + 1
	for l := range pliBase {
		n := teacher.plis[l].Load() - pliBase[l]
		t.Logf("layer %d: %d keyframe requests at the publisher in %s (bound %d), %d students asking every 50 ms",
			l, n, elapsed.Round(time.Millisecond), allowed, len(far))
		if n > allowed {
			t.Errorf("layer %d: %d keyframe requests in %s, want at most %d (one per 500 ms)", l, n, elapsed.Round(time.Millisecond), allowed)
		}
	}
	if teacher.plis[2].Load()-pliBase[2] == 0 {
		t.Errorf("no keyframe request reached the publisher's HIGH layer: the storm was not forwarded at all")
	}
}
