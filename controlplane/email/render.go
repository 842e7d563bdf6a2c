// Package email renders Atrium's transactional emails (HTML and text from embedded
// templates), queues them through a transactional outbox, and delivers them over SMTP from a
// River job with retries.
//
// Outbox.Enqueue must be called with a store inside the transaction of the business change
// that causes the email: the outbox row and its delivery job commit or roll back with it, so
// an email is never sent for a change that did not happen, nor lost for one that did.
package email

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"

	"github.com/atrium-live/atrium/controlplane/store"
)

// Kinds of email. Each has templates/<kind>.txt (defining "subject") and templates/<kind>.html.
const (
	KindWelcome             = "welcome"
	KindVerifyEmail         = "verify_email"
	KindPasswordReset       = "password_reset"
	KindBookingConfirmation = "booking_confirmation"
	KindReminder            = "reminder"
	KindCancellation        = "cancellation"
	KindReceipt             = "receipt"
	KindRefund              = "refund"
	KindWaitlistOffer       = "waitlist_offer" // money: a freed seat offered to a waitlisted student
	KindClassMessage        = "class_message"  // a teacher's message to the booked students of a class
)

// Kinds lists every kind (a test renders each).
var Kinds = []string{KindWelcome, KindVerifyEmail, KindPasswordReset, KindBookingConfirmation,
	KindReminder, KindCancellation, KindReceipt, KindRefund, KindWaitlistOffer, KindClassMessage}

//go:embed templates
var templateFS embed.FS

// Rendered is a message ready to send.
type Rendered struct {
	Subject     string
	Text        string
	HTML        string
	Attachments []store.Attachment
}

// Renderer renders the embedded templates. Safe for concurrent use.
type Renderer struct {
	appURL string
	text   map[string]*texttemplate.Template
	html   map[string]*htmltemplate.Template
}

// NewRenderer parses every template; appURL is added to the data of each message as AppURL.
func NewRenderer(appURL string) (*Renderer, error) {
	r := &Renderer{appURL: appURL, text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, k := range Kinds {
		t, err := texttemplate.New(k+".txt").Option("missingkey=error").ParseFS(templateFS, "templates/"+k+".txt")
		if err != nil {
			return nil, fmt.Errorf("email: parse %s.txt: %w", k, err)
		}
		h, err := htmltemplate.New(k+".html").Option("missingkey=error").ParseFS(templateFS, "templates/"+k+".html")
		if err != nil {
			return nil, fmt.Errorf("email: parse %s.html: %w", k, err)
		}
		r.text[k], r.html[k] = t, h
	}
	return r, nil
}

// Render renders kind with data (AppURL is added). The HTML part is escaped by html/template,
// so user-provided strings such as class titles cannot inject markup.
func (r *Renderer) Render(kind string, data map[string]any) (Rendered, error) {
	t, ok := r.text[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("email: unknown kind %q", kind)
	}
	d := make(map[string]any, len(data)+1)
	for k, v := range data {
		d[k] = v
	}
	d["AppURL"] = r.appURL
	var subj, text, html bytes.Buffer
	if err := t.ExecuteTemplate(&subj, "subject", d); err != nil {
		return Rendered{}, fmt.Errorf("email: %s subject: %w", kind, err)
	}
	if err := t.Execute(&text, d); err != nil {
		return Rendered{}, fmt.Errorf("email: %s text: %w", kind, err)
	}
	if err := r.html[kind].Execute(&html, d); err != nil {
		return Rendered{}, fmt.Errorf("email: %s html: %w", kind, err)
	}
	// A subject is one header line: never let data break it.
	s := strings.Join(strings.Fields(subj.String()), " ")
	return Rendered{Subject: s, Text: text.String(), HTML: html.String()}, nil
}
