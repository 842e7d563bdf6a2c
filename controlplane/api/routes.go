package api

import (
	"fmt"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/atrium-live/atrium/controlplane/problem"
)

// Routes returns the control plane's HTTP handler: every route Atrium serves is listed here,
// so the whole API fits on one screen. Middleware order (outermost first): request id, observe
// (logs, metrics, panics), security headers, CORS, body limit, per-IP rate limit,
// authentication, per-user rate limit, OpenAPI validation, then the route.
func Routes(h *Handler) (http.Handler, error) {
	validate, err := validator(h.Spec, h)
	if err != nil {
		return nil, err
	}
	specJSON, err := h.Spec.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("api: render openapi spec: %w", err)
	}
	r := h.routeTable(specJSON)
	r.Use(recordRoute)

	var out http.Handler = r
	for _, mw := range []func(http.Handler) http.Handler{ // innermost first
		validate,
		h.limitUser,
		h.authenticate,
		h.limitIP,
		limitBody(h.MaxBodyBytes),
		cors(h.CORSOrigins),
		securityHeaders(h.HSTS, h.MediaOrigin),
		observe(h.Log, h.Metrics),
		requestID,
	} {
		out = mw(out)
	}
	return out, nil
}

// routeTable is the route table itself (Routes adds the middleware around it).
func (h *Handler) routeTable(specJSON []byte) *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(h.notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, h.Log, problem.New(http.StatusMethodNotAllowed, problem.CodeMethodNotAllowed, "method not allowed"))
	})

	// Operations: never behind rate limits or authentication, never touching PG for /healthz.
	r.HandleFunc("/healthz", h.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", h.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", h.MetricsHandler).Methods(http.MethodGet)
	r.HandleFunc("/api/openapi.json", openapiHandler(specJSON)).Methods(http.MethodGet)

	api := r.PathPrefix("/api/v1").Subrouter()
	any := h.authed()
	admin := h.authed("admin")
	teacher := h.authed("teacher")

	// Accounts.
	api.HandleFunc("/auth/register", h.limitAuth(h.register)).Methods(http.MethodPost)
	api.HandleFunc("/auth/verify-email", h.limitAuth(h.verifyEmail)).Methods(http.MethodPost)
	api.HandleFunc("/auth/verify-email/resend", h.limitAuth(any(h.resendVerification))).Methods(http.MethodPost)
	api.HandleFunc("/auth/password/forgot", h.limitAuth(h.forgotPassword)).Methods(http.MethodPost)
	api.HandleFunc("/auth/password/reset", h.limitAuth(h.resetPassword)).Methods(http.MethodPost)
	api.HandleFunc("/auth/login", h.limitAuth(h.login)).Methods(http.MethodPost)
	api.HandleFunc("/auth/refresh", h.limitAuth(h.refresh)).Methods(http.MethodPost)
	api.HandleFunc("/auth/logout", h.logout).Methods(http.MethodPost)
	api.HandleFunc("/auth/2fa/enroll", any(h.totpEnroll)).Methods(http.MethodPost)
	api.HandleFunc("/auth/2fa/confirm", any(h.totpConfirm)).Methods(http.MethodPost)
	api.HandleFunc("/auth/2fa/disable", h.limitAuth(any(h.totpDisable))).Methods(http.MethodPost)
	api.HandleFunc("/me", any(h.getMe)).Methods(http.MethodGet)
	api.HandleFunc("/me", any(h.patchMe)).Methods(http.MethodPatch)
	api.HandleFunc("/me/sessions", any(h.listSessions)).Methods(http.MethodGet)
	api.HandleFunc("/me/sessions", any(h.deleteOtherSessions)).Methods(http.MethodDelete)
	api.HandleFunc("/me/sessions/{id}", any(h.deleteSession)).Methods(http.MethodDelete)

	// Notifications and calendars (h_notifications.go, h_stream.go, h_calendar.go).
	api.HandleFunc("/me/notifications", any(h.myNotifications)).Methods(http.MethodGet)
	api.HandleFunc("/me/notifications/stream", any(h.notificationStream)).Methods(http.MethodGet)
	api.HandleFunc("/me/notifications/read-all", any(h.readAllNotifications)).Methods(http.MethodPost)
	api.HandleFunc("/me/notifications/{id}/read", any(h.readNotification)).Methods(http.MethodPost)
	api.HandleFunc("/me/notification-preferences", any(h.getNotificationPreferences)).Methods(http.MethodGet)
	api.HandleFunc("/me/notification-preferences", any(h.putNotificationPreferences)).Methods(http.MethodPut)
	api.HandleFunc("/me/calendar-feed", any(h.getCalendarFeed)).Methods(http.MethodGet)
	api.HandleFunc("/me/calendar-feed", any(h.createCalendarFeed)).Methods(http.MethodPost)
	api.HandleFunc("/me/calendar-feed", any(h.deleteCalendarFeed)).Methods(http.MethodDelete)
	api.HandleFunc("/calendar/{token}.ics", h.calendarFeed).Methods(http.MethodGet)

	// Administration.
	api.HandleFunc("/admin/users", admin(h.listUsers)).Methods(http.MethodGet)
	api.HandleFunc("/admin/users/{id}", admin(h.patchUser)).Methods(http.MethodPatch)
	api.HandleFunc("/admin/audit-log", admin(h.auditLog)).Methods(http.MethodGet)

	// Classes and discovery.
	api.HandleFunc("/classes", h.listClasses).Methods(http.MethodGet)
	api.HandleFunc("/classes", teacher(h.createClass)).Methods(http.MethodPost)
	api.HandleFunc("/classes/popular", h.popularClasses).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}", h.getClass).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}", teacher(h.patchClass)).Methods(http.MethodPatch)
	api.HandleFunc("/classes/{id}/cancel", any(h.cancelClass)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/join", any(h.joinClass)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/attendance", any(h.classAttendance)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/rating", any(h.rateClass)).Methods(http.MethodPost)
	api.HandleFunc("/teachers/{id}", h.getTeacher).Methods(http.MethodGet)

	// Live classroom moderation (h_moderation.go): the class's teacher or an admin.
	api.HandleFunc("/classes/{id}/participants/{userID}/mute", any(h.muteParticipant)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/participants/{userID}/remove", any(h.removeParticipant)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/lock", any(h.lockClassRoom)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/mute-all", any(h.muteAll)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/lower-hands", any(h.lowerHands)).Methods(http.MethodPost)

	// Class lifecycle and the teacher's roster (h_lifecycle.go, docs/classes.md).
	api.HandleFunc("/classes/{id}/lifecycle", any(h.classLifecycle)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/end", any(h.endClass)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/roster", any(h.classRoster)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/roster.csv", any(h.classRosterCSV)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/message", any(h.messageClass)).Methods(http.MethodPost)

	// The classroom's persisted chat, Q&A and polls (h_classroom.go, docs/classroom.md): the
	// class's teacher, its booked students and admins; changes are relayed to the room.
	api.HandleFunc("/classes/{id}/chat", any(h.classChat)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/chat", any(h.postChat)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/questions", any(h.classQuestions)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/questions", any(h.askQuestion)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/questions/{qid}/upvote", any(h.questionAction(true))).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/questions/{qid}/answer", any(h.questionAction(false))).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/polls", any(h.classPolls)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/polls", any(h.createPoll)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/polls/{pid}/vote", any(h.votePoll)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/polls/{pid}/close", any(h.closePoll)).Methods(http.MethodPost)

	// Recordings (h_recordings.go): the class's teacher manages them; the teacher, admins and
	// booked students list and watch them (media is the authorizing proxy to the bucket).
	api.HandleFunc("/classes/{id}/recordings", any(h.classRecordings)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/recordings", any(h.startRecording)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/recording-settings", any(h.putRecordingSettings)).Methods(http.MethodPut)
	api.HandleFunc("/recordings/{id}/stop", any(h.stopRecording)).Methods(http.MethodPost)
	api.HandleFunc("/recordings/{id}", any(h.deleteRecording)).Methods(http.MethodDelete)
	api.HandleFunc("/recordings/{id}/media/{file}", any(h.recordingMedia)).Methods(http.MethodGet)
	api.HandleFunc("/teacher/recordings", teacher(h.teacherRecordings)).Methods(http.MethodGet)

	api.HandleFunc("/discount-codes", teacher(h.createDiscount)).Methods(http.MethodPost)
	api.HandleFunc("/discount-codes", teacher(h.listDiscounts)).Methods(http.MethodGet)
	api.HandleFunc("/discount-codes/{id}", teacher(h.disableDiscount)).Methods(http.MethodDelete)

	// Money (docs/money.md): wallet, purchases, bookings, waitlists, refunds, disputes,
	// earnings, payouts, ledger check. Handlers in money_*.go.
	student := h.authed("student")
	api.HandleFunc("/wallet", any(h.getWallet)).Methods(http.MethodGet)
	api.HandleFunc("/wallet/transactions", any(h.walletTransactions)).Methods(http.MethodGet)
	api.HandleFunc("/wallet/purchases", any(h.createPurchase)).Methods(http.MethodPost)
	api.HandleFunc("/wallet/purchases", any(h.listPurchases)).Methods(http.MethodGet)
	api.HandleFunc("/wallet/purchases/{id}/receipt", any(h.purchaseReceipt)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/bookings", student(h.createBooking)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/waitlist", student(h.joinWaitlist)).Methods(http.MethodPost)
	api.HandleFunc("/classes/{id}/waitlist", student(h.getWaitlist)).Methods(http.MethodGet)
	api.HandleFunc("/classes/{id}/waitlist", student(h.leaveWaitlist)).Methods(http.MethodDelete)
	api.HandleFunc("/me/bookings", any(h.myBookings)).Methods(http.MethodGet)
	api.HandleFunc("/bookings/{id}", any(h.getBooking)).Methods(http.MethodGet)
	api.HandleFunc("/bookings/{id}", any(h.cancelBooking)).Methods(http.MethodDelete)
	api.HandleFunc("/bookings/{id}/disputes", any(h.openDispute)).Methods(http.MethodPost)
	api.HandleFunc("/teacher/earnings", teacher(h.teacherEarnings)).Methods(http.MethodGet)
	api.HandleFunc("/teacher/earnings.csv", teacher(h.teacherEarningsCSV)).Methods(http.MethodGet)
	api.HandleFunc("/teacher/payouts", teacher(h.requestPayout)).Methods(http.MethodPost)
	api.HandleFunc("/teacher/payouts", teacher(h.teacherPayouts)).Methods(http.MethodGet)
	api.HandleFunc("/admin/ledger/check", admin(h.ledgerCheck)).Methods(http.MethodGet)
	api.HandleFunc("/admin/credits/grants", admin(h.grantCredits)).Methods(http.MethodPost)
	api.HandleFunc("/admin/refunds", admin(h.adminRefund)).Methods(http.MethodPost)
	api.HandleFunc("/admin/refunds", admin(h.listRefunds)).Methods(http.MethodGet)
	api.HandleFunc("/admin/disputes", admin(h.listDisputes)).Methods(http.MethodGet)
	api.HandleFunc("/admin/disputes/{id}/resolve", admin(h.resolveDispute)).Methods(http.MethodPost)
	api.HandleFunc("/admin/payouts", admin(h.adminPayouts)).Methods(http.MethodGet)
	api.HandleFunc("/admin/payouts/{id}/approve", admin(h.decidePayout(true))).Methods(http.MethodPost)
	api.HandleFunc("/admin/payouts/{id}/reject", admin(h.decidePayout(false))).Methods(http.MethodPost)
	api.HandleFunc("/admin/reconciliation", admin(h.runReconciliation)).Methods(http.MethodPost)
	api.HandleFunc("/admin/reconciliation", admin(h.listReconciliations)).Methods(http.MethodGet)
	api.HandleFunc("/webhooks/stripe", h.limitBadSignatures(h.stripeWebhook)).Methods(http.MethodPost)
	// End of money.

	// Webhooks: authenticated by signature, not by user token.
	api.HandleFunc("/webhooks/livekit", h.limitBadSignatures(h.livekitWebhook)).Methods(http.MethodPost)

	if h.UI != nil {
		r.PathPrefix("/").Handler(h.UI).Methods(http.MethodGet, http.MethodHead)
	}

	return r
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, h.Log, problem.New(http.StatusNotFound, problem.CodeNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)))
}
