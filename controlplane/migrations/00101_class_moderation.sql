-- +goose Up
-- Moderation that holds (docs/classes.md): a student banned from a class cannot get a join
-- token for it again; a locked class admits only those already in the room (and the teacher).
CREATE TABLE class_bans (
    class_id   uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id),
    banned_by  uuid NOT NULL REFERENCES users (id),
    reason     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    PRIMARY KEY (class_id, user_id)
);

ALTER TABLE classes
    ADD COLUMN locked_at timestamptz,
    ADD COLUMN locked_by uuid REFERENCES users (id);

-- +goose Down
ALTER TABLE classes DROP COLUMN locked_by, DROP COLUMN locked_at;
DROP TABLE class_bans;
