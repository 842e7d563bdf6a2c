-- +goose Up
-- Reminders at several offsets before a class (24 h and 1 h by default). The primary key is
-- what makes each reminder happen once per booking and offset, whatever the sweeps race.
CREATE TABLE booking_reminders (
    booking_id     uuid NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    offset_minutes integer NOT NULL CHECK (offset_minutes > 0),
    sent_at        timestamptz NOT NULL,
    PRIMARY KEY (booking_id, offset_minutes)
);

-- A private iCal feed per user: the URL's token, stored as a SHA-256 hash. Rotating or
-- revoking sets revoked_at; at most one live token per user.
CREATE TABLE calendar_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX calendar_tokens_live ON calendar_tokens (user_id) WHERE revoked_at IS NULL;

-- Emails may carry attachments (the .ics invite of a booking): [{filename, content_type, content}].
ALTER TABLE email_outbox ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'::jsonb;

-- +goose Down
ALTER TABLE email_outbox DROP COLUMN attachments;
DROP TABLE calendar_tokens;
DROP TABLE booking_reminders;
