-- +goose Up
-- Transactional outbox: a message is rendered and inserted in the same transaction as the
-- business change that causes it, then delivered by a River job (email.deliver) with retries.
CREATE TABLE email_outbox (
    id         bigserial PRIMARY KEY,
    to_addr    text NOT NULL,
    kind       text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text NOT NULL,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);
CREATE INDEX email_outbox_pending_idx ON email_outbox (created_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE email_outbox;
