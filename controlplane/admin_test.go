package controlplane_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestAdminUsers(t *testing.T) {
	env := cptest.Serve(t)
	admin := env.NewUser(t, "admin")
	student := env.NewUser(t, "student")

	env.Do(t, "GET", "/api/v1/admin/users", "", nil).WantError(t, 401, "unauthenticated")
	env.Do(t, "GET", "/api/v1/admin/users", student.Token, nil).WantError(t, 403, "forbidden")
	env.Do(t, "PATCH", "/api/v1/admin/users/"+admin.ID, student.Token, map[string]string{"role": "student"}).WantError(t, 403, "forbidden")

	var page struct {
		Items []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	env.Do(t, "GET", "/api/v1/admin/users?q="+url.QueryEscape(student.Email), admin.Token, nil).Want(t, 200).JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != student.ID {
		t.Fatalf("search by email = %+v", page.Items)
	}
	// Walk all users two at a time: no duplicates, every page but the last is full.
	for range 3 {
		env.NewUser(t, "student")
	}
	seen := map[string]bool{}
	path := "/api/v1/admin/users?limit=2"
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
		page.NextCursor = nil
		env.Do(t, "GET", path, admin.Token, nil).Want(t, 200).JSON(t, &page)
		for _, it := range page.Items {
			if seen[it.ID] {
				t.Fatalf("user %s on two pages", it.ID)
			}
			seen[it.ID] = true
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/admin/users?limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	n, err := env.Server.Store.CountUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Errorf("pagination saw %d users, database has %d", len(seen), n)
	}
	env.Do(t, "GET", "/api/v1/admin/users?cursor=bm9wZQ", admin.Token, nil).WantError(t, 422, "validation_failed")

	// Role change: effective on the next request, audited.
	env.Do(t, "POST", "/api/v1/classes", student.Token, map[string]any{}).WantError(t, 403, "forbidden")
	env.Do(t, "PATCH", "/api/v1/admin/users/"+student.ID, admin.Token, map[string]string{"role": "teacher"}).Want(t, 200)
	env.CreateClass(t, student, cptest.ClassSpec{})
	env.Do(t, "PATCH", "/api/v1/admin/users/"+student.ID, admin.Token, map[string]string{"role": "root"}).WantError(t, 422, "validation_failed")
	env.Do(t, "PATCH", "/api/v1/admin/users/"+admin.ID, admin.Token, map[string]string{"role": "student"}).WantError(t, 409, "conflict")
	env.Do(t, "PATCH", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000", admin.Token, map[string]string{"role": "student"}).WantError(t, 404, "not_found")
	env.Do(t, "PATCH", "/api/v1/admin/users/not-a-uuid", admin.Token, map[string]string{"role": "student"}).WantError(t, 404, "not_found")

	// Suspension: sessions die, login refused, reinstating allows login again.
	env.Do(t, "PATCH", "/api/v1/admin/users/"+student.ID, admin.Token, map[string]bool{"suspended": true}).Want(t, 200)
	env.Do(t, "GET", "/api/v1/me", student.Token, nil).WantError(t, 401, "invalid_token")
	login(t, env, student.Email, student.Password, "").WantError(t, 403, "account_suspended")
	env.Do(t, "PATCH", "/api/v1/admin/users/"+student.ID, admin.Token, map[string]bool{"suspended": false}).Want(t, 200)
	login(t, env, student.Email, student.Password, "").Want(t, 200)

	var audit struct {
		Items []struct {
			ActorID *string        `json:"actor_id"`
			Action  string         `json:"action"`
			Details map[string]any `json:"details"`
		} `json:"items"`
	}
	env.Do(t, "GET", "/api/v1/admin/audit-log?target_id="+student.ID, admin.Token, nil).Want(t, 200).JSON(t, &audit)
	actions := map[string]bool{}
	for _, e := range audit.Items {
		actions[e.Action] = true
		if e.Action == "user.role_changed" && (e.Details["from"] != "student" || e.Details["to"] != "teacher" || *e.ActorID != admin.ID) {
			t.Errorf("role change entry = %+v", e)
		}
	}
	for _, want := range []string{"user.role_changed", "user.suspended", "user.reinstated", "user.created"} {
		if !actions[want] {
			t.Errorf("audit log lacks %s (has %v)", want, actions)
		}
	}
	env.Do(t, "GET", "/api/v1/admin/audit-log?actor_id=nope", admin.Token, nil).WantError(t, 422, "validation_failed")
}

func TestAuditLogAppendOnly(t *testing.T) {
	env := cptest.Serve(t)
	env.NewUser(t, "student")
	ctx := context.Background()
	if _, err := env.Server.Pool.Exec(ctx, `UPDATE audit_log SET action = 'forged'`); err == nil {
		t.Error("UPDATE on audit_log succeeded")
	}
	if _, err := env.Server.Pool.Exec(ctx, `DELETE FROM audit_log`); err == nil {
		t.Error("DELETE on audit_log succeeded")
	}
}
