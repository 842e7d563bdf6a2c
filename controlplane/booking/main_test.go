package booking_test

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestMain(m *testing.M) { os.Exit(cptest.Main(m)) }

// world is a running control plane with an admin and a teacher.
type world struct {
	env     *cptest.Env
	admin   *cptest.User
	teacher *cptest.User
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := cptest.Serve(t)
	return &world{env: env, admin: env.NewUser(t, "admin"), teacher: env.NewUser(t, "teacher")}
}

// student creates a student holding credits (granted by the admin).
func (w *world) student(t *testing.T, credits int) *cptest.User {
	t.Helper()
	s := w.env.NewUser(t, "student")
	if credits > 0 {
		w.grant(t, s, credits)
	}
	return s
}

func (w *world) grant(t *testing.T, u *cptest.User, credits int) {
	t.Helper()
	w.env.Do(t, "POST", "/api/v1/admin/credits/grants", w.admin.Token,
		map[string]any{"user_id": u.ID, "credits": credits, "reason": "test funding"}).Want(t, http.StatusCreated)
}

func (w *world) balance(t *testing.T, u *cptest.User) int {
	t.Helper()
	var out struct {
		Balance int `json:"balance_credits"`
	}
	w.env.Do(t, "GET", "/api/v1/wallet", u.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
	return out.Balance
}

// book posts a booking with an Idempotency-Key.
func (w *world) book(t testing.TB, u *cptest.User, classID, key string, body any) *cptest.Response {
	t.Helper()
	return w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + classID + "/bookings",
		Token: u.Token, Body: body, Headers: map[string]string{"Idempotency-Key": key}})
}

// mustBook books and returns the booking id.
func (w *world) mustBook(t *testing.T, u *cptest.User, classID string) string {
	t.Helper()
	var b struct {
		ID string `json:"id"`
	}
	w.book(t, u, classID, "k-"+cptest.RandomHex(6), nil).Want(t, http.StatusCreated).JSON(t, &b)
	return b.ID
}

// checkLedger fails the test unless GET /admin/ledger/check reports every invariant holds.
func (w *world) checkLedger(t *testing.T) {
	t.Helper()
	var rep struct {
		OK            bool             `json:"ok"`
		Checks        []string         `json:"checks"`
		Discrepancies []map[string]any `json:"discrepancies"`
	}
	w.env.Do(t, "GET", "/api/v1/admin/ledger/check", w.admin.Token, nil).Want(t, http.StatusOK).JSON(t, &rep)
	if !rep.OK || len(rep.Checks) < 6 {
		t.Fatalf("ledger check failed: checks %v, discrepancies %v", rep.Checks, rep.Discrepancies)
	}
}

// refunds returns the refunds of a class from GET /admin/refunds.
func (w *world) refunds(t *testing.T, classID string) []map[string]any {
	t.Helper()
	var out struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/admin/refunds?limit=200&class_id="+classID, w.admin.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
	return out.Items
}

// advance moves the clock and signs everyone in again (access tokens live 15 minutes).
func (w *world) advance(t *testing.T, d time.Duration, users ...*cptest.User) {
	t.Helper()
	w.env.Clock.Advance(d)
	for _, u := range append([]*cptest.User{w.admin, w.teacher}, users...) {
		w.env.Login(t, u)
	}
}

// parallel runs fn(i) for i in [0, n) concurrently and waits.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

// status counts statuses (with error codes) of responses.
type tally struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *tally) add(r *cptest.Response) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[fmt.Sprintf("%d %s", r.Status, r.ErrorCode())]++
}
