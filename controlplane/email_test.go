package controlplane_test

import (
	"context"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// When the SMTP server is down, the business change still commits, the outbox keeps the
// message pending and records the failed attempts for the retrying job.
func TestOutboxSurvivesSMTPOutage(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.SMTP.Addr = "127.0.0.1:1" }})
	email := cptest.UniqueEmail("outage")
	register(t, env, email, cptest.TestPassword, "Out Age", "student").Want(t, 201)
	ctx := context.Background()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var pending, attempts int
		err := env.Server.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'), coalesce(max(attempts), 0)
			FROM email_outbox WHERE to_addr = $1`, email).Scan(&pending, &attempts)
		if err != nil {
			t.Fatal(err)
		}
		if pending == 2 && attempts >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox for %s: %d pending, %d attempts; want 2 pending with a recorded failure", email, pending, attempts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := cptest.MailTo(t, email); len(got) != 0 {
		t.Errorf("mail delivered despite the outage: %v", got)
	}
}
