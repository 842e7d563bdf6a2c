package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/billing"
	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/catalog"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// DemoPassword is the password of every demo account. Demo data is for `atrium dev` only.
const DemoPassword = "atrium-demo-pass-2026"

// DemoUser is a seeded account.
type DemoUser struct {
	ID, Email, Name, Role string
}

// DemoClass is a seeded class.
type DemoClass struct {
	ID, Title string
	StartsAt  time.Time
}

// Demo is what SeedDemo created (or found from an earlier run).
type Demo struct {
	URL     string
	Users   []DemoUser
	Classes []DemoClass
	// Booked names the student booked into the first class, when it had not started yet.
	Booked string
}

// Print writes the demo accounts and classes for a developer to try.
func (d Demo) Print(w io.Writer) {
	fmt.Fprintf(w, "\nAtrium control plane demo data (password for every account: %s)\n", DemoPassword)
	fmt.Fprintf(w, "  open %s\n", d.URL)
	for _, u := range d.Users {
		fmt.Fprintf(w, "  %-8s %-28s %s\n", u.Role, u.Email, u.Name)
	}
	fmt.Fprintf(w, "  every student starts with %d credits\n", DemoCredits)
	if d.Booked != "" {
		fmt.Fprintf(w, "  %s is booked into the first class\n", d.Booked)
	}
	for _, c := range d.Classes {
		fmt.Fprintf(w, "  class    %s  %s  starts %s\n", c.ID, c.Title, c.StartsAt.Local().Format("Mon 15:04"))
	}
	fmt.Fprintln(w)
}

// SeedDemo makes sure the demo accounts exist (an admin, two teachers, three students, all
// verified) and that the demo teachers have upcoming classes, one of them joinable right away.
// Running it again adds classes only when the teachers have none upcoming.
func SeedDemo(ctx context.Context, s *Server) (Demo, error) {
	d := Demo{URL: s.Config.HTTP.PublicURL}
	people := []struct{ email, name, role string }{
		{"admin@atrium.local", "Ada Admin", accounts.RoleAdmin},
		{"teacher@atrium.local", "Grace Hopper", accounts.RoleTeacher},
		{"teacher2@atrium.local", "Alan Turing", accounts.RoleTeacher},
		{"student@atrium.local", "Sam Student", accounts.RoleStudent},
		{"student2@atrium.local", "Kim Student", accounts.RoleStudent},
		{"student3@atrium.local", "Lee Student", accounts.RoleStudent},
	}
	for _, p := range people {
		u, err := s.Accounts.CreateUser(ctx, "", accounts.CreateUserInput{Email: p.email, Password: DemoPassword,
			Name: p.name, Role: p.role, Verified: true})
		if pe, ok := problem.As(err); ok && pe.Code == problem.CodeEmailTaken {
			u, err = s.Store.UserByEmail(ctx, p.email)
		}
		if err != nil {
			return d, fmt.Errorf("seed demo: %s: %w", p.email, err)
		}
		d.Users = append(d.Users, DemoUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role})
	}
	now := s.Now()
	classes := []struct {
		teacher                  int
		title, topic, desc, tier string
		in                       time.Duration
		minutes, capacity, price int
	}{
		{1, "Live demo: your first Atrium class", "programming", "Join right away to try video, audio and chat.", "basic", 5 * time.Minute, 60, 30, 5},
		{1, "Compilers from scratch", "programming", "Lexing, parsing and code generation in one evening.", "premium", 26 * time.Hour, 90, 20, 40},
		{2, "Computability for everyone", "mathematics", "What machines can and cannot compute, with examples.", "basic", 50 * time.Hour, 60, 50, 10},
		{2, "Cryptanalysis masterclass", "security", "Breaking classical ciphers by hand and by machine.", "vip", 74 * time.Hour, 120, 8, 120},
	}
	for _, c := range classes {
		teacher := d.Users[c.teacher]
		existing, _, err := s.Catalog.Search(ctx, store.ClassQuery{TeacherID: teacher.ID, Text: c.title, Limit: 1})
		if err != nil {
			return d, fmt.Errorf("seed demo: %w", err)
		}
		if len(existing) > 0 {
			d.Classes = append(d.Classes, DemoClass{ID: existing[0].ID, Title: existing[0].Title, StartsAt: existing[0].StartsAt})
			continue
		}
		starts := now.Add(c.in).Truncate(time.Minute)
		recordable := c.in < time.Hour // the live demo may be recorded (atrium dev runs a recorder)
		created, err := s.Catalog.Create(ctx, catalog.Actor{UserID: teacher.ID, Role: teacher.Role, Verified: true},
			catalog.ClassInput{Title: &c.title, Topic: &c.topic, Description: &c.desc, StartsAt: &starts,
				DurationMinutes: &c.minutes, Capacity: &c.capacity, Tier: &c.tier, PriceCredits: &c.price, Recordable: &recordable})
		if err != nil {
			var pe *problem.Error
			if errors.As(err, &pe) {
				return d, fmt.Errorf("seed demo: class %q: %s %v", c.title, pe.Message, pe.Fields)
			}
			return d, fmt.Errorf("seed demo: class %q: %w", c.title, err)
		}
		d.Classes = append(d.Classes, DemoClass{ID: created.ID, Title: created.Title, StartsAt: created.StartsAt})
	}
	booked, err := seedDemoMoney(ctx, s, d)
	if err != nil {
		return d, err
	}
	d.Booked = booked
	return d, nil
}

// DemoCredits is what every demo student starts with, granted once by the demo admin.
const DemoCredits = 500

// seedDemoMoney funds the demo students (a promotional grant, so the ledger stays balanced)
// and books the first student into the class that starts now, so `atrium dev` shows a
// student joining straight away. Both are idempotent: a second start changes nothing.
func seedDemoMoney(ctx context.Context, s *Server, d Demo) (booked string, err error) {
	if s.Money == nil {
		return "", nil
	}
	admin := d.Users[0]
	for _, u := range d.Users {
		if u.Role != accounts.RoleStudent {
			continue
		}
		if _, err := s.Money.Billing.Grant(ctx, billing.GrantInput{AdminID: admin.ID, UserID: u.ID, Credits: DemoCredits,
			Reason: "demo credits", IdempotencyKey: "demo-credits-" + u.ID}); err != nil {
			return "", fmt.Errorf("seed demo: credits for %s: %w", u.Email, err)
		}
	}
	// A class that has started takes no bookings; a restart after that leaves it as it is.
	if len(d.Classes) == 0 || !d.Classes[0].StartsAt.After(s.Now()) {
		return "", nil
	}
	student := d.Users[3]
	_, err = s.Money.Booking.Book(ctx, booking.Actor{UserID: student.ID, Role: student.Role, Email: student.Email, Name: student.Name},
		booking.BookInput{ClassID: d.Classes[0].ID, IdempotencyKey: "demo-booking-" + d.Classes[0].ID})
	if err != nil {
		return "", fmt.Errorf("seed demo: booking %s into %q: %w", student.Email, d.Classes[0].Title, err)
	}
	return student.Email, nil
}
