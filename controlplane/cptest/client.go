package cptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/accounts"
)

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Want fails the test unless the status is want, showing the body.
func (r *Response) Want(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body: %s", r.Status, want, r.Body)
	}
	return r
}

// JSON decodes the body into v.
func (r *Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as an object.
func (r *Response) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorCode returns error.code of an error body ("" if none).
func (r *Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// ErrorFields returns error.fields of an error body.
func (r *Response) ErrorFields() map[string]string {
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Fields
}

// WantError fails unless the response is status with error code.
func (r *Response) WantError(t testing.TB, status int, code string) *Response {
	t.Helper()
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("got %d %q, want %d %q; body: %s", r.Status, r.ErrorCode(), status, code, r.Body)
	}
	return r
}

// Request describes a call for DoRequest.
type Request struct {
	Method  string
	Path    string
	Token   string // bearer token, optional
	Body    any    // JSON-encoded unless []byte or string (sent raw)
	Headers map[string]string
}

// Do sends method path with an optional bearer token and JSON body.
func (e *Env) Do(t testing.TB, method, path, token string, body any) *Response {
	t.Helper()
	return e.DoRequest(t, Request{Method: method, Path: path, Token: token, Body: body})
}

// DoRequest sends req and reads the whole response.
func (e *Env) DoRequest(t testing.TB, req Request) *Response {
	t.Helper()
	var rd io.Reader
	switch b := req.Body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, req.Method, e.URL+req.Path, rd)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.Token != "" {
		r.Header.Set("Authorization", "Bearer "+req.Token)
	}
	for k, v := range req.Headers {
		r.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.Path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", req.Method, req.Path, err)
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: body}
}

// User is a signed-in test account.
type User struct {
	ID           string
	Email        string
	Password     string
	Name         string
	Role         string
	Token        string // access token
	RefreshToken string
	SessionID    string
}

// UniqueEmail returns an address no other test uses (mailpit is shared across packages).
func UniqueEmail(prefix string) string {
	return prefix + "-" + RandomHex(6) + "@atrium.test"
}

// TestPassword is a password that passes the policy.
const TestPassword = "correct-horse-battery-42"

// NewUser creates a verified account with role (student, teacher, admin) directly through the
// accounts service and signs it in over HTTP.
func (e *Env) NewUser(t testing.TB, role string) *User {
	t.Helper()
	u := &User{Email: UniqueEmail(role), Password: TestPassword, Name: "Test " + role, Role: role}
	created, err := e.Server.Accounts.CreateUser(context.Background(), "", accounts.CreateUserInput{Email: u.Email,
		Password: u.Password, Name: u.Name, Role: role, Verified: true})
	if err != nil {
		t.Fatalf("cptest: create %s: %v", role, err)
	}
	u.ID = created.ID
	e.Login(t, u)
	return u
}

// Login signs u in over HTTP and stores its tokens.
func (e *Env) Login(t testing.TB, u *User) {
	t.Helper()
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		SessionID    string `json:"session_id"`
	}
	e.Do(t, "POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password}).
		Want(t, http.StatusOK).JSON(t, &tok)
	u.Token, u.RefreshToken, u.SessionID = tok.AccessToken, tok.RefreshToken, tok.SessionID
}

// ClassSpec overrides fields of the class CreateClass makes (zero values keep defaults).
type ClassSpec struct {
	Title       string
	Topic       string
	Description string
	StartsIn    time.Duration // from the env clock; default 48h
	Duration    int           // minutes; default 60
	Capacity    int           // default 10
	Tier        string        // default basic
	Price       int           // default 10
	TimeZone    string        // IANA; default the teacher's
}

// CreateClass schedules a class for teacher over HTTP and returns its JSON.
func (e *Env) CreateClass(t testing.TB, teacher *User, s ClassSpec) map[string]any {
	t.Helper()
	body := map[string]any{"title": or(s.Title, "Intro to Go concurrency"), "topic": or(s.Topic, "programming"),
		"description": s.Description, "starts_at": e.Clock.Now().Add(orDur(s.StartsIn, 48*time.Hour)).UTC().Format(time.RFC3339),
		"duration_minutes": orInt(s.Duration, 60), "capacity": orInt(s.Capacity, 10), "tier": or(s.Tier, "basic"),
		"price_credits": orInt(s.Price, 10)}
	if s.TimeZone != "" {
		body["time_zone"] = s.TimeZone
	}
	return e.Do(t, "POST", "/api/v1/classes", teacher.Token, body).Want(t, http.StatusCreated).Map(t)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
