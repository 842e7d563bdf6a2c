package controlplane_test

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/store"
)

func TestClassCreateValidation(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	start := env.Clock.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	valid := func() map[string]any {
		return map[string]any{"title": "Algebra", "topic": "math", "starts_at": start, "duration_minutes": 60,
			"capacity": 10, "tier": "basic", "price_credits": 10, "time_zone": "America/New_York", "recordable": true}
	}
	env.Do(t, "POST", "/api/v1/classes", student.Token, valid()).WantError(t, 403, "forbidden")
	env.Do(t, "POST", "/api/v1/classes", "", valid()).WantError(t, 401, "unauthenticated")

	unverified := &cptest.User{Email: cptest.UniqueEmail("unv"), Password: cptest.TestPassword}
	if _, err := env.Server.Accounts.CreateUser(context.Background(), "", accounts.CreateUserInput{Email: unverified.Email,
		Password: unverified.Password, Name: "U", Role: "teacher"}); err != nil {
		t.Fatal(err)
	}
	env.Login(t, unverified)
	env.Do(t, "POST", "/api/v1/classes", unverified.Token, valid()).WantError(t, 403, "email_not_verified")

	for _, tc := range []struct {
		field string
		value any
	}{
		{"price_credits", 51}, // above the basic tier's max
		{"price_credits", -1}, // negative
		{"starts_at", env.Clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		{"starts_at", "tomorrow"}, // not RFC 3339
		{"duration_minutes", 5},
		{"capacity", 0},
		{"capacity", 1e9},
		{"tier", "gold"},
		{"title", "ab"},
		{"title", strings.Repeat("x", 300)},
		{"time_zone", "Nowhere/City"},
		{"recordable", "yes"},
	} {
		body := valid()
		body[tc.field] = tc.value
		res := env.Do(t, "POST", "/api/v1/classes", teacher.Token, body)
		if res.Status != 422 || res.ErrorCode() != "validation_failed" {
			t.Errorf("%s=%v: %d %s", tc.field, tc.value, res.Status, res.Body)
			continue
		}
		if _, ok := res.ErrorFields()[tc.field]; !ok && tc.field != "starts_at" && tc.field != "capacity" {
			t.Errorf("%s=%v: fields %v lack %s", tc.field, tc.value, res.ErrorFields(), tc.field)
		}
	}
	body := valid()
	delete(body, "title")
	if f := env.Do(t, "POST", "/api/v1/classes", teacher.Token, body).WantError(t, 422, "validation_failed").ErrorFields(); f["title"] == "" {
		t.Errorf("missing title: fields %v", f)
	}
	// VIP prices are bounded by the VIP tier.
	body = valid()
	body["tier"], body["price_credits"] = "vip", 400
	c := env.Do(t, "POST", "/api/v1/classes", teacher.Token, body).Want(t, 201).Map(t)
	if c["time_zone"] != "America/New_York" || c["recordable"] != true || c["seats_left"] != float64(10) {
		t.Errorf("created class = %v", c)
	}
	// HTML stays data: it comes back verbatim inside JSON, never rendered by us.
	body = valid()
	body["title"] = `<img src=x onerror=alert(1)>`
	c = env.Do(t, "POST", "/api/v1/classes", teacher.Token, body).Want(t, 201).Map(t)
	if c["title"] != `<img src=x onerror=alert(1)>` {
		t.Errorf("title = %v", c["title"])
	}
}

func TestClassEditAndCancel(t *testing.T) {
	cancelled := make(chan string, 4)
	var failHook sync.Mutex
	fail := false
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) {
		d.ClassHooks = hookFunc(func(c store.Class) error {
			failHook.Lock()
			defer failHook.Unlock()
			if fail {
				return errors.New("refund system down")
			}
			cancelled <- c.ID
			return nil
		})
	}})
	teacher := env.NewUser(t, "teacher")
	other := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	admin := env.NewUser(t, "admin")
	c := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 2 * time.Hour})
	id := c["id"].(string)

	env.Do(t, "PATCH", "/api/v1/classes/"+id, other.Token, map[string]any{"price_credits": 1}).WantError(t, 403, "forbidden")
	env.Do(t, "PATCH", "/api/v1/classes/"+id, student.Token, map[string]any{"price_credits": 1}).WantError(t, 403, "forbidden")
	up := env.Do(t, "PATCH", "/api/v1/classes/"+id, teacher.Token, map[string]any{"price_credits": 25, "title": "Renamed"}).Want(t, 200).Map(t)
	if up["price_credits"] != float64(25) || up["title"] != "Renamed" || up["topic"] != c["topic"] {
		t.Errorf("updated = %v", up)
	}
	env.Do(t, "PATCH", "/api/v1/classes/"+id, teacher.Token, map[string]any{"price_credits": 60}).WantError(t, 422, "validation_failed")
	audit := env.Do(t, "GET", "/api/v1/admin/audit-log?action=class.price_changed&target_id="+id, admin.Token, nil).Want(t, 200).Map(t)
	if items := audit["items"].([]any); len(items) != 1 || items[0].(map[string]any)["details"].(map[string]any)["to"] != float64(25) {
		t.Errorf("price change audit = %v", items)
	}

	// A failing hook aborts the cancellation: nothing half-done.
	failHook.Lock()
	fail = true
	failHook.Unlock()
	env.Do(t, "POST", "/api/v1/classes/"+id+"/cancel", teacher.Token, map[string]string{"reason": "ill"}).WantError(t, 500, "internal")
	if got := env.Do(t, "GET", "/api/v1/classes/"+id, "", nil).Want(t, 200).Map(t)["status"]; got != "scheduled" {
		t.Fatalf("status after failed cancel = %v", got)
	}
	failHook.Lock()
	fail = false
	failHook.Unlock()

	env.Do(t, "POST", "/api/v1/classes/"+id+"/cancel", student.Token, map[string]string{}).WantError(t, 403, "forbidden")
	got := env.Do(t, "POST", "/api/v1/classes/"+id+"/cancel", teacher.Token, map[string]string{"reason": "ill"}).Want(t, 200).Map(t)
	if got["status"] != "cancelled" || got["cancel_reason"] != "ill" {
		t.Errorf("cancelled class = %v", got)
	}
	if hooked := <-cancelled; hooked != id {
		t.Errorf("hook saw %s, want %s", hooked, id)
	}
	env.Do(t, "POST", "/api/v1/classes/"+id+"/cancel", teacher.Token, map[string]string{}).WantError(t, 409, "class_not_editable")
	env.Do(t, "PATCH", "/api/v1/classes/"+id, teacher.Token, map[string]any{"title": "Again"}).WantError(t, 409, "class_not_editable")

	// Admins may cancel anyone's class; nobody may edit a started one.
	c2 := env.CreateClass(t, other, cptest.ClassSpec{StartsIn: time.Hour})
	env.Clock.Advance(61 * time.Minute)
	env.Login(t, other) // access tokens live 15 minutes
	env.Login(t, admin)
	env.Do(t, "PATCH", "/api/v1/classes/"+c2["id"].(string), other.Token, map[string]any{"title": "Late edit"}).WantError(t, 409, "class_not_editable")
	env.Do(t, "POST", "/api/v1/classes/"+c2["id"].(string)+"/cancel", admin.Token, map[string]string{"reason": "policy"}).Want(t, 200)

	env.Do(t, "GET", "/api/v1/classes/00000000-0000-0000-0000-000000000000", "", nil).WantError(t, 404, "not_found")
	env.Do(t, "GET", "/api/v1/classes/1%20OR%201=1", "", nil).WantError(t, 404, "not_found")
}

type hookFunc func(store.Class) error

func (f hookFunc) ClassCancelled(_ context.Context, _ *store.Store, c store.Class) error { return f(c) }

type seeded struct {
	id, teacher, topic, tier string
	price, seats             int
	starts                   time.Time
	quantum, cancelled       bool
}

// seedClasses inserts n classes for teachers in a time window no other test uses and returns
// them with the window's bounds.
func seedClasses(t *testing.T, env *cptest.Env, teachers []*cptest.User, n int) ([]seeded, time.Time, time.Time) {
	t.Helper()
	ctx := context.Background()
	base := env.Clock.Now().Add(200 * 24 * time.Hour).Truncate(time.Minute)
	topics := []string{"math", "Music", "programming", "art"}
	tiers := []string{"basic", "premium", "vip"}
	var out []seeded
	err := env.Server.Store.InTx(ctx, func(tx *store.Store) error {
		for i := range n {
			tier := tiers[(i/3)%3]
			price := map[string]int{"basic": 1 + (i*7)%50, "premium": 10 + (i*11)%191, "vip": 50 + (i*13)%951}[tier]
			s := seeded{teacher: teachers[i%len(teachers)].ID, topic: topics[i%4], tier: tier, price: price,
				starts: base.Add(time.Duration(i*37) * time.Minute), quantum: i%10 == 0, seats: (i * 13) % 20}
			desc := "A friendly lesson."
			if s.quantum {
				desc = "Quantum entanglement explained."
			}
			c, err := tx.CreateClass(ctx, store.NewClass{TeacherID: s.teacher, Title: "Lesson " + s.topic, Topic: s.topic,
				Description: desc, StartsAt: s.starts, DurationMinutes: 45, TimeZone: "UTC", Capacity: 20, Tier: tier,
				PriceCredits: price})
			if err != nil {
				return err
			}
			s.id = c.ID
			if _, err := tx.DB().Exec(ctx, `UPDATE classes SET seats_taken = $2 WHERE id = $1`, c.ID, s.seats); err != nil {
				return err
			}
			if i%50 == 7 {
				s.cancelled = true
				if _, err := tx.CancelClass(ctx, c.ID, "test", env.Clock.Now()); err != nil {
					return err
				}
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed classes: %v", err)
	}
	return out, base.Add(-time.Minute), base.Add(time.Duration(n*37) * time.Minute)
}

type classItem struct {
	ID      string    `json:"id"`
	Topic   string    `json:"topic"`
	Tier    string    `json:"tier"`
	Price   int       `json:"price_credits"`
	Seats   int       `json:"seats_taken"`
	Left    int       `json:"seats_left"`
	Cap     int       `json:"capacity"`
	Status  string    `json:"status"`
	Starts  time.Time `json:"starts_at"`
	Teacher struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"teacher"`
}

// walk follows next_cursor from query until the end and returns every item.
func walk(t *testing.T, env *cptest.Env, query url.Values) []classItem {
	t.Helper()
	var all []classItem
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("pagination does not end")
		}
		var p struct {
			Items      []classItem `json:"items"`
			NextCursor *string     `json:"next_cursor"`
		}
		env.Do(t, "GET", "/api/v1/classes?"+query.Encode(), "", nil).Want(t, 200).JSON(t, &p)
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			return all
		}
		query.Set("cursor", *p.NextCursor)
	}
}

func TestDiscovery(t *testing.T) {
	env := cptest.Serve(t)
	teachers := []*cptest.User{env.NewUser(t, "teacher"), env.NewUser(t, "teacher"), env.NewUser(t, "teacher")}
	classes, from, to := seedClasses(t, env, teachers, 300)
	window := func() url.Values {
		return url.Values{"from": {from.UTC().Format(time.RFC3339)}, "to": {to.UTC().Format(time.RFC3339)}, "limit": {"25"}}
	}
	expect := func(keep func(seeded) bool) map[string]bool {
		m := map[string]bool{}
		for _, c := range classes {
			if !c.cancelled && keep(c) {
				m[c.id] = true
			}
		}
		return m
	}
	check := func(name string, q url.Values, keep func(seeded) bool) []classItem {
		t.Helper()
		got := walk(t, env, q)
		want := expect(keep)
		seen := map[string]bool{}
		for _, it := range got {
			if seen[it.ID] {
				t.Errorf("%s: %s listed twice", name, it.ID)
			}
			seen[it.ID] = true
			if !want[it.ID] {
				t.Errorf("%s: unexpected class %s (%+v)", name, it.ID, it)
			}
			if it.Left != it.Cap-it.Seats || it.Status != "scheduled" || it.Teacher.Name == "" {
				t.Errorf("%s: bad item %+v", name, it)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("%s: got %d classes, want %d", name, len(seen), len(want))
		}
		return got
	}
	all := func(seeded) bool { return true }

	byStart := check("sort=start", window(), all)
	if !sort.SliceIsSorted(byStart, func(i, j int) bool { return byStart[i].Starts.Before(byStart[j].Starts) }) {
		t.Error("sort=start is not ordered by start")
	}
	q := window()
	q.Set("sort", "price")
	byPrice := check("sort=price", q, all)
	for i := 1; i < len(byPrice); i++ {
		if byPrice[i].Price < byPrice[i-1].Price {
			t.Fatalf("sort=price: %d after %d", byPrice[i].Price, byPrice[i-1].Price)
		}
	}
	q = window()
	q.Set("sort", "popularity")
	q.Set("limit", "7")
	byPop := check("sort=popularity", q, all)
	for i := 1; i < len(byPop); i++ {
		if byPop[i].Seats > byPop[i-1].Seats {
			t.Fatalf("sort=popularity: %d seats after %d", byPop[i].Seats, byPop[i-1].Seats)
		}
	}
	q = window()
	q.Set("topic", "music")
	check("topic", q, func(c seeded) bool { return c.topic == "Music" })
	q = window()
	q.Set("tier", "vip")
	q.Set("min_price", "100")
	q.Set("max_price", "500")
	check("tier+price", q, func(c seeded) bool { return c.tier == "vip" && c.price >= 100 && c.price <= 500 })
	q = window()
	q.Set("teacher", teachers[1].ID)
	check("teacher", q, func(c seeded) bool { return c.teacher == teachers[1].ID })
	q = window()
	q.Set("q", "quantum")
	check("q", q, func(c seeded) bool { return c.quantum })
	q = window()
	q.Set("q", `"quantum entanglement" -art`)
	check("websearch", q, func(c seeded) bool { return c.quantum && c.topic != "art" })
	q = window()
	q.Set("q", `'; DROP TABLE classes; --`)
	walk(t, env, q) // any result is fine; it must not fail
	q = window()
	q.Set("to", from.Add(time.Duration(50*37)*time.Minute).UTC().Format(time.RFC3339))
	check("to", q, func(c seeded) bool { return c.starts.Before(from.Add(time.Duration(50*37) * time.Minute)) })

	for _, bad := range []string{"sort=bogus", "limit=0", "limit=1000", "min_price=abc", "from=yesterday",
		"tier=gold", "teacher=nope", "cursor=not-a-cursor"} {
		res := env.Do(t, "GET", "/api/v1/classes?"+bad, "", nil)
		if res.Status != 422 || res.ErrorCode() != "validation_failed" {
			t.Errorf("%s: %d %s", bad, res.Status, res.Body)
		}
	}
}

func TestPopularAndTeacherProfile(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	ids := make([]string, 3)
	for i := range ids {
		ids[i] = env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: time.Duration(300+i) * 24 * time.Hour})["id"].(string)
	}
	// Make the last class the most booked in the whole database.
	if _, err := env.Server.Pool.Exec(context.Background(), `UPDATE classes SET capacity = 1000, seats_taken = 999 WHERE id = $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	var pop struct {
		Items []classItem `json:"items"`
	}
	env.Do(t, "GET", "/api/v1/classes/popular?limit=3", "", nil).Want(t, 200).JSON(t, &pop)
	if len(pop.Items) == 0 || pop.Items[0].ID != ids[2] || pop.Items[0].Left != 1 {
		t.Fatalf("popular = %+v", pop.Items)
	}
	profile := env.Do(t, "GET", "/api/v1/teachers/"+teacher.ID, "", nil).Want(t, 200).Map(t)
	if profile["name"] != teacher.Name || len(profile["upcoming"].([]any)) != 3 || profile["rating"] != nil {
		t.Errorf("profile = %v", profile)
	}
	if _, leaked := profile["email"]; leaked {
		t.Error("public teacher profile exposes the email address")
	}
	student := env.NewUser(t, "student")
	env.Do(t, "GET", "/api/v1/teachers/"+student.ID, "", nil).WantError(t, 404, "not_found")
	env.Do(t, "GET", "/api/v1/teachers/xyz", "", nil).WantError(t, 404, "not_found")
}

func TestDiscountCodes(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	other := env.NewUser(t, "teacher")
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Price: 40})
	otherClass := env.CreateClass(t, other, cptest.ClassSpec{})
	until := env.Clock.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	d := env.Do(t, "POST", "/api/v1/discount-codes", teacher.Token, map[string]any{"code": "spring25", "kind": "percent",
		"amount": 25, "valid_until": until, "max_uses": 2, "class_id": class["id"]}).Want(t, 201).Map(t)
	if d["code"] != "SPRING25" || d["uses"] != float64(0) {
		t.Errorf("code = %v", d)
	}
	env.Do(t, "POST", "/api/v1/discount-codes", teacher.Token, map[string]any{"code": "Spring25", "kind": "fixed",
		"amount": 5, "valid_until": until, "max_uses": 1}).WantError(t, 409, "conflict")
	env.Do(t, "POST", "/api/v1/discount-codes", teacher.Token, map[string]any{"code": "x", "kind": "percent",
		"amount": 250, "valid_until": until, "max_uses": 1}).WantError(t, 422, "validation_failed")
	env.Do(t, "POST", "/api/v1/discount-codes", teacher.Token, map[string]any{"code": "THEIRS", "kind": "fixed",
		"amount": 5, "valid_until": until, "max_uses": 1, "class_id": otherClass["id"]}).WantError(t, 422, "validation_failed")
	student := env.NewUser(t, "student")
	env.Do(t, "POST", "/api/v1/discount-codes", student.Token, map[string]any{"code": "MINE", "kind": "fixed",
		"amount": 5, "valid_until": until, "max_uses": 1}).WantError(t, 403, "forbidden")

	list := env.Do(t, "GET", "/api/v1/discount-codes", teacher.Token, nil).Want(t, 200).Map(t)["items"].([]any)
	if len(list) != 1 {
		t.Fatalf("codes = %v", list)
	}
	if l := env.Do(t, "GET", "/api/v1/discount-codes", other.Token, nil).Want(t, 200).Map(t)["items"].([]any); len(l) != 0 {
		t.Errorf("other teacher sees %v", l)
	}

	// Redemption (used by bookings): case-insensitive, class-bound, at most max_uses.
	ctx := context.Background()
	now := env.Clock.Now()
	st := env.Server.Store
	for i := range 2 {
		got, err := st.RedeemDiscountCode(ctx, teacher.ID, class["id"].(string), "spring25", now)
		if err != nil {
			t.Fatalf("redeem %d: %v", i, err)
		}
		if p := got.Apply(40); p != 30 {
			t.Errorf("25%% off 40 = %d", p)
		}
	}
	if _, err := st.RedeemDiscountCode(ctx, teacher.ID, class["id"].(string), "SPRING25", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("third use: %v, want ErrNotFound", err)
	}
	if _, err := st.RedeemDiscountCode(ctx, other.ID, otherClass["id"].(string), "SPRING25", now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other teacher's class: %v", err)
	}

	env.Do(t, "DELETE", "/api/v1/discount-codes/"+d["id"].(string), other.Token, nil).WantError(t, 404, "not_found")
	env.Do(t, "DELETE", "/api/v1/discount-codes/"+d["id"].(string), teacher.Token, nil).Want(t, 204)
}
