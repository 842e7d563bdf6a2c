package cptest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Mail is a message as mailpit received it.
type Mail struct {
	ID          string
	Subject     string
	Text        string
	HTML        string
	To          []string
	Attachments []Attachment
}

// Attachment is a file of a message (Content fetched by MailAttachment).
type Attachment struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
}

// MailAttachment returns the decoded content of attachment a of m.
func MailAttachment(t testing.TB, m Mail, a Attachment) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		MailpitURL+"/api/v1/message/"+url.PathEscape(m.ID)+"/part/"+url.PathEscape(a.PartID), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("cptest: mailpit attachment: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("cptest: mailpit attachment %s of %s: %d %v", a.PartID, m.ID, res.StatusCode, err)
	}
	return body
}

// WaitEmail polls mailpit until a message to `to` whose subject contains subject arrives
// (up to 20 s) and returns it. Addresses from UniqueEmail keep tests apart.
func WaitEmail(t testing.TB, to, subject string) Mail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msgs, err := searchMail(to)
		if err != nil {
			t.Fatalf("cptest: mailpit at %s: %v (start it with ./scripts/services.sh up)", MailpitURL, err)
		}
		for _, m := range msgs {
			if strings.Contains(m.Subject, subject) {
				full, err := getMail(m.ID)
				if err != nil {
					t.Fatalf("cptest: mailpit message %s: %v", m.ID, err)
				}
				return full
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cptest: no email to %s with subject containing %q within 20s (got %d others)", to, subject, len(msgs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MailTo returns every message mailpit holds for to (no waiting).
func MailTo(t testing.TB, to string) []Mail {
	t.Helper()
	msgs, err := searchMail(to)
	if err != nil {
		t.Fatalf("cptest: mailpit at %s: %v", MailpitURL, err)
	}
	return msgs
}

func searchMail(to string) ([]Mail, error) {
	var res struct {
		Messages []struct {
			ID      string `json:"ID"`
			Subject string `json:"Subject"`
			To      []struct {
				Address string `json:"Address"`
			} `json:"To"`
		} `json:"messages"`
	}
	q := url.Values{"query": {`to:"` + to + `"`}, "limit": {"50"}}
	if err := getJSON(MailpitURL+"/api/v1/search?"+q.Encode(), &res); err != nil {
		return nil, err
	}
	var out []Mail
	for _, m := range res.Messages {
		mail := Mail{ID: m.ID, Subject: m.Subject}
		match := false
		for _, a := range m.To {
			mail.To = append(mail.To, a.Address)
			match = match || strings.EqualFold(a.Address, to)
		}
		if match {
			out = append(out, mail)
		}
	}
	return out, nil
}

func getMail(id string) (Mail, error) {
	var m struct {
		ID          string       `json:"ID"`
		Subject     string       `json:"Subject"`
		Text        string       `json:"Text"`
		HTML        string       `json:"HTML"`
		Attachments []Attachment `json:"Attachments"`
	}
	if err := getJSON(MailpitURL+"/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		return Mail{}, err
	}
	return Mail{ID: m.ID, Subject: m.Subject, Text: m.Text, HTML: m.HTML, Attachments: m.Attachments}, nil
}

func getJSON(u string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, res.Status)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

var tokenRE = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

// TokenFrom returns the token=... value of the first link in a message's text.
func TokenFrom(t testing.TB, m Mail) string {
	t.Helper()
	match := tokenRE.FindStringSubmatch(m.Text)
	if match == nil {
		t.Fatalf("cptest: no token link in email %q:\n%s", m.Subject, m.Text)
	}
	return match[1]
}
