-- +goose Up
-- Accounts. Emails are stored as given but unique case-insensitively, which is also what
-- makes 50 parallel registrations of one address produce exactly one row.
CREATE TABLE users (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email               text NOT NULL,
    name                text NOT NULL,
    role                text NOT NULL CHECK (role IN ('student', 'teacher', 'admin')),
    password_hash       text NOT NULL,
    email_verified_at   timestamptz,
    suspended_at        timestamptz,
    bio                 text NOT NULL DEFAULT '',
    time_zone           text NOT NULL DEFAULT 'UTC',
    totp_secret         text,
    totp_pending_secret text,
    totp_last_step      bigint NOT NULL DEFAULT 0,
    failed_logins       integer NOT NULL DEFAULT 0,
    failed_window_start timestamptz,
    locked_until        timestamptz,
    rating_sum          bigint NOT NULL DEFAULT 0,
    rating_count        integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_idx ON users (role, created_at);

-- +goose Down
DROP TABLE users;
