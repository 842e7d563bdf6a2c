package api

import (
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

type tokensView struct {
	AccessToken  string    `json:"access_token"`
	TokenType    string    `json:"token_type"`
	ExpiresIn    int       `json:"expires_in"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token,omitempty"` // not in cookie mode
	SessionID    string    `json:"session_id"`
	User         userView  `json:"user"`
}

// writeTokens answers a login or refresh. In cookie mode (the browser UI) the refresh token
// goes into the httpOnly cookie and never into the body, so page scripts cannot read it.
func (h *Handler) writeTokens(w http.ResponseWriter, r *http.Request, t accounts.Tokens, cookie bool) {
	v := tokensView{AccessToken: t.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(time.Until(t.AccessExpiresAt).Round(time.Second).Seconds()), ExpiresAt: t.AccessExpiresAt.UTC(),
		RefreshToken: t.RefreshToken, SessionID: t.SessionID, User: viewUser(t.User)}
	if cookie {
		h.setSessionCookies(w, r, t.RefreshToken, t.RefreshExpiresAt)
		v.RefreshToken = ""
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		TimeZone string `json:"time_zone"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	u, err := h.Accounts.Register(r.Context(), accounts.RegisterInput{Email: in.Email, Password: in.Password,
		Name: in.Name, Role: in.Role, TimeZone: in.TimeZone})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewUser(u))
}

func (h *Handler) verifyEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if err := h.Accounts.VerifyEmail(r.Context(), in.Token); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"verified": true})
}

func (h *Handler) resendVerification(w http.ResponseWriter, r *http.Request, p store.Principal) {
	// Mail limits per account and per address, like password resets (issue 17, finding 5).
	if retry, ok := h.allowMail(r.Context(), "verify", p.UserID, p.Email); !ok {
		writeError(w, r, h.Log, tooMany(retry))
		return
	}
	if err := h.Accounts.ResendVerification(r.Context(), p.UserID); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"sent": true})
}

func (h *Handler) forgotPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if h.allowForgot(r.Context(), in.Email) {
		if err := h.Accounts.ForgotPassword(r.Context(), in.Email); err != nil {
			writeError(w, r, h.Log, err)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "if an account exists for this address, a reset link is on its way"})
}

func (h *Handler) resetPassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if err := h.Accounts.ResetPassword(r.Context(), in.Token, in.Password); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"reset": true})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	cookie, err := h.cookieMode(r)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	t, err := h.Accounts.Login(r.Context(), accounts.LoginInput{Email: in.Email, Password: in.Password, TOTP: in.TOTP,
		UserAgent: r.UserAgent(), IP: h.clientIP(r)})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.writeTokens(w, r, t, cookie)
}

// refresh rotates the refresh token from the JSON body (API clients) or, when the body has
// none, from the session cookie; the cookie is only honoured with the CSRF header from our
// own origin (cookieMode), so a page on another site cannot mint access tokens with it.
func (h *Handler) refresh(w http.ResponseWriter, r *http.Request) {
	var in struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := decodeOptional(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	cookie, err := h.cookieMode(r)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	token := in.RefreshToken
	if token == "" {
		token = refreshFromCookie(r)
		switch {
		case token == "":
			writeError(w, r, h.Log, errBadRefresh)
			return
		case !cookie:
			writeError(w, r, h.Log, csrfRefusal(r))
			return
		}
	}
	t, err := h.Accounts.Refresh(r.Context(), token, r.UserAgent(), h.clientIP(r))
	if err != nil {
		if cookie {
			h.clearSessionCookies(w, r)
		}
		writeError(w, r, h.Log, err)
		return
	}
	h.writeTokens(w, r, t, cookie)
}

var errBadRefresh = problem.New(http.StatusUnauthorized, problem.CodeInvalidRefreshToken, "the refresh token is invalid or expired")

// logout revokes the session of the access token, or (a browser whose access token lapsed)
// of the session cookie, which needs the CSRF header. Every tab of the browser shares that
// session, so all of them are signed out; open notification streams of the session are told
// (session_ended) and the UI broadcasts the sign-out to its other tabs.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	cookie, err := h.cookieMode(r)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var userID, sessionID string
	if p, ok := principalFrom(r.Context()); ok {
		userID, sessionID = p.UserID, p.SessionID
		err = h.Accounts.Logout(r.Context(), p.UserID, p.SessionID)
	} else if token := refreshFromCookie(r); token != "" {
		if !cookie {
			writeError(w, r, h.Log, csrfRefusal(r))
			return
		}
		userID, sessionID, err = h.Accounts.LogoutRefresh(r.Context(), token)
	} else {
		err = errUnauthenticated
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if cookie {
		h.clearSessionCookies(w, r)
	}
	if sessionID != "" && h.Notify != nil {
		h.Notify.SessionEnded(userID, sessionID)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) totpEnroll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	e, err := h.Accounts.EnrollTOTP(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": e.Secret, "otpauth_url": e.URL})
}

func (h *Handler) totpConfirm(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Code string `json:"code"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if err := h.Accounts.ConfirmTOTP(r.Context(), p.UserID, in.Code); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"two_factor_enabled": true})
}

func (h *Handler) totpDisable(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if err := h.Accounts.DisableTOTP(r.Context(), p.UserID, in.Password, in.Code); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"two_factor_enabled": false})
}
