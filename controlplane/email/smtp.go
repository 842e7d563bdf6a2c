package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// SMTPConfig is where and as whom to send.
type SMTPConfig struct {
	Addr     string // host:port
	From     string // "Name <address>"
	Username string // optional; PLAIN auth (net/smtp refuses it without TLS except on localhost)
	Password string
	Timeout  time.Duration
}

// Sender delivers one message per call over SMTP. Safe for concurrent use.
type Sender struct {
	cfg  SMTPConfig
	from *mail.Address
}

// NewSender checks cfg.From and returns a Sender.
func NewSender(cfg SMTPConfig) (*Sender, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("email: from address %q: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	return &Sender{cfg: cfg, from: from}, nil
}

// Send delivers msg to the single address to.
func (s *Sender) Send(ctx context.Context, to string, msg Rendered) error {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("email: recipient: %w", err)
	}
	body, err := s.build(rcpt, msg)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: s.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("email: dial %s: %w", s.cfg.Addr, err)
	}
	deadline := time.Now().Add(s.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	host, _, _ := net.SplitHostPort(s.cfg.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("email: smtp hello: %w", err)
	}
	defer c.Close()
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, host)); err != nil {
			return fmt.Errorf("email: smtp auth: %w", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("email: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(rcpt.Address); err != nil {
		return fmt.Errorf("email: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("email: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: end of data: %w", err)
	}
	return c.Quit()
}

// build returns an RFC 5322 message: multipart/alternative (text first, HTML preferred),
// wrapped in multipart/mixed with the attachments when there are any.
func (s *Sender) build(to *mail.Address, msg Rendered) ([]byte, error) {
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := "atrium.local"
	if _, d, ok := strings.Cut(s.from.Address, "@"); ok {
		domain = d
	}
	var altBody bytes.Buffer
	alt := multipart.NewWriter(&altBody)
	for _, p := range []struct{ ctype, body string }{
		{"text/plain; charset=utf-8", msg.Text},
		{"text/html; charset=utf-8", msg.HTML},
	} {
		pw, err := alt.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("email: part: %w", err)
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(p.body)); err != nil {
			return nil, fmt.Errorf("email: encode: %w", err)
		}
		if err := qp.Close(); err != nil {
			return nil, fmt.Errorf("email: encode: %w", err)
		}
	}
	if err := alt.Close(); err != nil {
		return nil, fmt.Errorf("email: close: %w", err)
	}
	ctype, body := "multipart/alternative; boundary="+alt.Boundary(), altBody.Bytes()
	if len(msg.Attachments) > 0 {
		var mixedBody bytes.Buffer
		mixed := multipart.NewWriter(&mixedBody)
		pw, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + alt.Boundary()}})
		if err != nil {
			return nil, fmt.Errorf("email: part: %w", err)
		}
		if _, err := pw.Write(altBody.Bytes()); err != nil {
			return nil, fmt.Errorf("email: part: %w", err)
		}
		for _, a := range msg.Attachments {
			name := mime.QEncoding.Encode("utf-8", a.Filename)
			pw, err := mixed.CreatePart(textproto.MIMEHeader{
				"Content-Type":              {a.ContentType + "; name=\"" + name + "\""},
				"Content-Disposition":       {"attachment; filename=\"" + name + "\""},
				"Content-Transfer-Encoding": {"base64"},
			})
			if err != nil {
				return nil, fmt.Errorf("email: attachment: %w", err)
			}
			if err := writeBase64(pw, a.Content); err != nil {
				return nil, fmt.Errorf("email: attachment: %w", err)
			}
		}
		if err := mixed.Close(); err != nil {
			return nil, fmt.Errorf("email: close: %w", err)
		}
		ctype, body = "multipart/mixed; boundary="+mixed.Boundary(), mixedBody.Bytes()
	}
	h := []string{
		"From: " + s.from.String(),
		"To: " + to.String(),
		"Subject: " + mime.QEncoding.Encode("utf-8", msg.Subject),
		"Date: " + time.Now().UTC().Format(time.RFC1123Z),
		"Message-ID: <" + hex.EncodeToString(id) + "@" + domain + ">",
		"MIME-Version: 1.0",
		"Content-Type: " + ctype,
	}
	var buf bytes.Buffer
	buf.WriteString(strings.Join(h, "\r\n") + "\r\n\r\n")
	buf.Write(body)
	return buf.Bytes(), nil
}

// writeBase64 writes b base64-encoded in lines of 76 characters (RFC 2045 §6.8).
func writeBase64(w io.Writer, b []byte) error {
	enc := base64.StdEncoding.EncodeToString(b)
	for len(enc) > 0 {
		n := min(76, len(enc))
		if _, err := io.WriteString(w, enc[:n]+"\r\n"); err != nil {
			return err
		}
		enc = enc[n:]
	}
	return nil
}
