package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/store"
)

func bookingActor(p store.Principal) booking.Actor {
	return booking.Actor{UserID: p.UserID, Role: p.Role, Email: p.Email, Name: p.Name}
}

// decodeOptional is decode for endpoints whose JSON body may be absent or empty.
func decodeOptional(r *http.Request, dst any) error {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonProblem(err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return decode(r, dst)
}

func (h *Handler) createBooking(w http.ResponseWriter, r *http.Request, p store.Principal) {
	classID, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		DiscountCode string `json:"discount_code"`
	}
	if err := decodeOptional(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	res, err := h.Money.Booking.Book(r.Context(), bookingActor(p), booking.BookInput{ClassID: classID, IdempotencyKey: key,
		DiscountCode: in.DiscountCode})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewBooking(res.Booking))
}

func (h *Handler) myBookings(w http.ResponseWriter, r *http.Request, p store.Principal) {
	up, past, err := h.Money.Booking.MyBookings(r.Context(), bookingActor(p), 200)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"upcoming": h.bookingsOut(up), "past": h.bookingsOut(past)})
}

func (h *Handler) getBooking(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var b store.Booking
	if err == nil {
		b, err = h.Money.Booking.Booking(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewBooking(b))
}

func (h *Handler) cancelBooking(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var ref store.Refund
	if err == nil {
		ref, err = h.Money.Booking.Cancel(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.endMediaAccess(r.Context(), ref.ClassID, ref.StudentID)
	writeJSON(w, http.StatusOK, map[string]any{"refund": viewRefund(ref)})
}

func (h *Handler) openDispute(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	d, err := h.Money.Booking.OpenDispute(r.Context(), bookingActor(p), id, in.Reason)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewDispute(d))
}

func (h *Handler) joinWaitlist(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var e store.WaitlistEntry
	if err == nil {
		e, err = h.Money.Booking.JoinWaitlist(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewWaitlist(e))
}

func (h *Handler) getWaitlist(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var e store.WaitlistEntry
	if err == nil {
		e, err = h.Money.Booking.WaitlistStatus(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewWaitlist(e))
}

func (h *Handler) leaveWaitlist(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err == nil {
		err = h.Money.Booking.LeaveWaitlist(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// endMediaAccess removes a student whose booking ended from the class room (issue 17,
// finding 8). Best effort, bounded: the booking change is committed, and a media plane that
// is down has no one to remove; the short join token lifetime covers the rest.
func (h *Handler) endMediaAccess(ctx context.Context, classID, userID string) {
	if classID == "" || userID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := h.Media.EndAccess(ctx, classID, userID); err != nil {
		h.Log.Warn("could not remove a participant whose booking ended", "class_id", classID, "err", err)
	}
}

// endMediaAccessIfUnbooked is endMediaAccess after a refund: a full refund ends the booking
// (the student can no longer /join, so they leave the room too), a partial one keeps it.
// The booking store answers, as it does for /join.
func (h *Handler) endMediaAccessIfUnbooked(ctx context.Context, classID, userID string) {
	booked, err := h.Store.HasConfirmedBooking(ctx, classID, userID)
	if err != nil {
		h.Log.Warn("could not check a refunded booking; removing the participant", "class_id", classID, "err", err)
	}
	if err != nil || !booked {
		h.endMediaAccess(ctx, classID, userID)
	}
}

// closeMediaRoom ends a cancelled class's room, disconnecting everyone in it; best effort
// and bounded like endMediaAccess.
func (h *Handler) closeMediaRoom(ctx context.Context, classID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	if err := h.Media.CloseRoom(ctx, classID); err != nil {
		h.Log.Warn("could not close the room of a cancelled class", "class_id", classID, "err", err)
	}
}

// bookingsOut is viewBookings with each class's end and join window, so "My classes" shows
// a join button only while the room is open.
func (h *Handler) bookingsOut(bs []store.Booking) []bookingView {
	out := viewBookings(bs)
	for i, b := range bs {
		end := b.ClassStartsAt.Add(time.Duration(b.ClassMinutes) * time.Minute).UTC()
		out[i].ClassEndsAt = &end
		out[i].joinView = h.joinWindow(b.ClassStartsAt, b.ClassMinutes, b.ClassStatus)
	}
	return out
}
