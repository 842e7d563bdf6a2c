package email

import (
	"strings"
	"testing"
)

func TestRenderEveryKind(t *testing.T) {
	r, err := NewRenderer("https://atrium.test")
	if err != nil {
		t.Fatal(err)
	}
	data := map[string]any{"Name": "Ann", "Role": "student", "Link": "https://atrium.test/x?token=abc",
		"ClassTitle": `<b>Go</b> & "you"`, "StartsAt": "Mon 10:00 UTC", "Credits": 12, "Reason": "teacher ill",
		"Reference": "R-1", "Amount": "€10.00", "Date": "2026-11-25", "ExpiresAt": "Tue 10:00 UTC",
		"From": "Teacher <i>T</i>", "Message": "Bring <b>paper</b>\nand a pen",
		"Headline": "The class was cancelled.", "In": "in 1 hour"}
	for _, k := range Kinds {
		m, err := r.Render(k, data)
		if err != nil {
			t.Fatalf("Render(%s): %v", k, err)
		}
		if m.Subject == "" || !strings.Contains(m.Text, "Hello Ann") || !strings.Contains(m.HTML, "<p>Hello Ann,</p>") {
			t.Errorf("Render(%s) = %+v", k, m)
		}
		if strings.Contains(m.HTML, "<b>Go</b>") {
			t.Errorf("Render(%s): class title not escaped in HTML", k)
		}
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Errorf("Render(%s): subject has a line break", k)
		}
	}
	if _, err := r.Render("nope", data); err == nil {
		t.Error("unknown kind rendered")
	}
	if _, err := r.Render(KindVerifyEmail, map[string]any{"Name": "x"}); err == nil {
		t.Error("missing template data did not fail")
	}
	m, _ := r.Render(KindBookingConfirmation, map[string]any{"Name": "x", "ClassTitle": "a\r\nBcc: evil@x.test",
		"StartsAt": "s", "Credits": 1, "Link": "l"})
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("header injection through the subject: %q", m.Subject)
	}
}
