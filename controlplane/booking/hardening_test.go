package booking_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	sfuconfig "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// Issue 17, finding 8: a join token kept working at the SFU after its booking was
// cancelled. Join tokens are short-lived, and cancelling removes the student from the room.
func TestCancelledBookingLeavesTheRoom(t *testing.T) {
	sfutest.QuietSDK()
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"booking-key": "booking-secret-0123456789abcdef-012345"}
	}))
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) {
		c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
	}})
	w := &world{env: env, admin: env.NewUser(t, "admin"), teacher: env.NewUser(t, "teacher")}
	s := w.student(t, 100)
	classID := env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute, Duration: 60, Price: 10})["id"].(string)
	bookingID := w.mustBook(t, s, classID)

	var j struct {
		URL, Token string
		ExpiresAt  time.Time `json:"expires_at"`
	}
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", s.Token, nil).Want(t, http.StatusOK).JSON(t, &j)
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(j.Token, claims); err != nil {
		t.Fatal(err)
	}
	exp, _ := claims.GetExpirationTime()
	if exp == nil || exp.Sub(env.Clock.Now()) > 10*time.Minute+5*time.Second {
		t.Errorf("join token expires at %v, more than 10 minutes ahead (class ends in 65 min)", exp)
	}
	if d := j.ExpiresAt.Sub(exp.Time); d > time.Second || d < -time.Second {
		t.Errorf("expires_at %v differs from the token's exp %v", j.ExpiresAt, exp.Time)
	}

	gone := make(chan struct{})
	room, err := lksdk.ConnectToRoomWithToken(j.URL, j.Token, &lksdk.RoomCallback{OnDisconnected: func() { close(gone) }},
		lksdk.WithAutoSubscribe(false), lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("student joins: %v", err)
	}
	defer room.Disconnect()

	env.Do(t, "DELETE", "/api/v1/bookings/"+bookingID, s.Token, nil).Want(t, http.StatusOK)
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the student stayed in the room after cancelling the booking")
	}
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", s.Token, nil).WantError(t, http.StatusForbidden, "not_booked")

	// Cancelling the class closes its room: everyone still in it leaves.
	s2 := w.student(t, 100)
	w.mustBook(t, s2, classID)
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", s2.Token, nil).Want(t, http.StatusOK).JSON(t, &j)
	gone2 := make(chan struct{})
	room2, err := lksdk.ConnectToRoomWithToken(j.URL, j.Token, &lksdk.RoomCallback{OnDisconnected: func() { close(gone2) }},
		lksdk.WithAutoSubscribe(false), lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("second student joins: %v", err)
	}
	defer room2.Disconnect()
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/cancel", w.teacher.Token, map[string]string{"reason": "ill"}).Want(t, http.StatusOK)
	select {
	case <-gone2:
	case <-time.After(10 * time.Second):
		t.Fatal("a student stayed in the room of a cancelled class")
	}
}
