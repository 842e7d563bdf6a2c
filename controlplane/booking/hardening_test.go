package booking_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/livekit"
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

// An admin's full refund ends a booking as a cancellation does, so it removes the student
// from the class room too (through the same path); a partial refund keeps the booking and
// the seat. An upheld dispute during the class is a full refund as well.
func TestRefundedBookingLeavesTheRoom(t *testing.T) {
	sfutest.QuietSDK()
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"refund-key": "refund-secret-0123456789abcdef-0123456"}
	}))
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) {
		c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
	}})
	w := &world{env: env, admin: env.NewUser(t, "admin"), teacher: env.NewUser(t, "teacher")}
	classID := env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute, Duration: 60, Price: 10})["id"].(string)
	api := lksdk.NewRoomServiceClient(sfu.HTTPURL(), sfu.APIKey(), sfu.APISecret())
	inRoom := func(identity string) bool {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: classID})
		if err != nil {
			t.Fatalf("ListParticipants: %v", err)
		}
		for _, p := range res.Participants {
			if p.Identity == identity {
				return true
			}
		}
		return false
	}
	// join books u into the class room and returns a channel closed when u is disconnected.
	join := func(u *cptest.User) <-chan struct{} {
		t.Helper()
		var j struct{ URL, Token string }
		env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", u.Token, nil).Want(t, http.StatusOK).JSON(t, &j)
		gone := make(chan struct{})
		room, err := lksdk.ConnectToRoomWithToken(j.URL, j.Token, &lksdk.RoomCallback{OnDisconnected: func() { close(gone) }},
			lksdk.WithAutoSubscribe(false), lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(10*time.Second))
		if err != nil {
			t.Fatalf("%s joins: %v", u.ID, err)
		}
		t.Cleanup(room.Disconnect)
		return gone
	}
	waitGone := func(gone <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-gone:
		case <-time.After(10 * time.Second):
			t.Fatalf("the student stayed in the room after %s", what)
		}
	}

	s := w.student(t, 100)
	bookingID := w.mustBook(t, s, classID)
	gone := join(s)
	// A partial refund keeps the booking: the student stays (the handler removes before it
	// answers, so a removal would show now).
	env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token, map[string]any{"booking_id": bookingID, "credits": 3,
		"reason": "late start"}).Want(t, http.StatusCreated)
	if !inRoom(s.ID) {
		t.Fatal("a partial refund removed the student from the room")
	}
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", s.Token, nil).Want(t, http.StatusOK)

	// A full refund ends the booking.
	s2 := w.student(t, 100)
	booking2 := w.mustBook(t, s2, classID)
	gone2 := join(s2)
	env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token, map[string]any{"booking_id": booking2,
		"reason": "goodwill"}).Want(t, http.StatusCreated)
	waitGone(gone2, "an admin's full refund")
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", s2.Token, nil).WantError(t, http.StatusForbidden, "not_booked")

	// A dispute upheld while the class runs refunds the rest of the first booking.
	w.advance(t, 10*time.Minute, s)
	var d struct {
		ID string `json:"id"`
	}
	env.Do(t, "POST", "/api/v1/bookings/"+bookingID+"/disputes", s.Token,
		map[string]any{"reason": "no sound at all"}).Want(t, http.StatusCreated).JSON(t, &d)
	env.Do(t, "POST", "/api/v1/admin/disputes/"+d.ID+"/resolve", w.admin.Token,
		map[string]any{"decision": "refund", "note": "confirmed by the teacher"}).Want(t, http.StatusOK)
	waitGone(gone, "an upheld dispute")
}
