package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Attachment is a file sent with an email.
type Attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"` // e.g. text/calendar; method=REQUEST; charset=utf-8
	Content     []byte `json:"content"`
}

// OutboxMessage is a rendered email waiting for (or past) delivery.
type OutboxMessage struct {
	ID       int64
	To       string
	Kind     string
	Subject  string
	TextBody string
	HTMLBody string
	// Attachments are sent after the text and HTML parts.
	Attachments []Attachment
	Status      string // pending, sent, failed
	Attempts    int
	LastError   string
	CreatedAt   time.Time
	SentAt      *time.Time
}

// InsertOutbox stores a pending message and returns its id.
func (s *Store) InsertOutbox(ctx context.Context, m OutboxMessage) (int64, error) {
	var id int64
	atts := m.Attachments
	if atts == nil {
		atts = []Attachment{}
	}
	raw, err := json.Marshal(atts)
	if err != nil {
		return 0, fmt.Errorf("insert outbox: %w", err)
	}
	err = s.db.QueryRow(ctx, `INSERT INTO email_outbox (to_addr, kind, subject, text_body, html_body, attachments)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, m.To, m.Kind, m.Subject, m.TextBody, m.HTMLBody, raw).Scan(&id)
	return id, wrap("insert outbox", err)
}

// OutboxByID returns a message.
func (s *Store) OutboxByID(ctx context.Context, id int64) (OutboxMessage, error) {
	var m OutboxMessage
	var raw []byte
	err := s.db.QueryRow(ctx, `SELECT id, to_addr, kind, subject, text_body, html_body, attachments, status, attempts,
		last_error, created_at, sent_at FROM email_outbox WHERE id = $1`, id).
		Scan(&m.ID, &m.To, &m.Kind, &m.Subject, &m.TextBody, &m.HTMLBody, &raw, &m.Status, &m.Attempts,
			&m.LastError, &m.CreatedAt, &m.SentAt)
	if err != nil {
		return m, wrap("outbox by id", err)
	}
	if err := json.Unmarshal(raw, &m.Attachments); err != nil {
		return m, fmt.Errorf("outbox by id: attachments: %w", err)
	}
	return m, nil
}

// MarkOutboxSent records a delivery.
func (s *Store) MarkOutboxSent(ctx context.Context, id int64, now time.Time) error {
	return s.exec1(ctx, "mark outbox sent", `UPDATE email_outbox SET status = 'sent', sent_at = $2,
		attempts = attempts + 1, last_error = '' WHERE id = $1`, id, now)
}

// MarkOutboxAttempt records a failed attempt; final marks the message failed for good.
func (s *Store) MarkOutboxAttempt(ctx context.Context, id int64, errText string, final bool) error {
	if len(errText) > 500 {
		errText = errText[:500]
	}
	return s.exec1(ctx, "mark outbox attempt", `UPDATE email_outbox SET attempts = attempts + 1, last_error = $2,
		status = CASE WHEN $3 THEN 'failed' ELSE status END WHERE id = $1`, id, errText, final)
}
