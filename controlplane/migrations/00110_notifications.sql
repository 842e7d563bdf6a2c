-- +goose Up
-- Real-time notifications (docs/notifications.md). The in-app records stay in
-- money_notifications (every kind, not only money ones); dedupe_key makes an event that may
-- be reported twice (a recording ready, a low balance) produce one record per user.
ALTER TABLE money_notifications ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX money_notifications_dedupe ON money_notifications (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX money_notifications_unread_idx ON money_notifications (user_id) WHERE read_at IS NULL;

-- Per user, kind and channel: a missing row means the kind's default (both channels on).
CREATE TABLE notification_preferences (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text NOT NULL,
    in_app     boolean NOT NULL,
    email      boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);

-- +goose Down
DROP TABLE notification_preferences;
DROP INDEX money_notifications_unread_idx;
DROP INDEX money_notifications_dedupe;
ALTER TABLE money_notifications DROP COLUMN dedupe_key;
