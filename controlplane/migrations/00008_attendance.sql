-- +goose Up
-- LiveKit webhook deliveries already processed, by event id: a duplicate delivery finds its
-- id here inside the same transaction and changes nothing.
CREATE TABLE webhook_events (
    id          text PRIMARY KEY,
    source      text NOT NULL,
    event       text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- One row per participant session in a class room (a participant who reconnects gets a new sid).
CREATE TABLE attendance (
    id               bigserial PRIMARY KEY,
    class_id         uuid NOT NULL REFERENCES classes (id),
    user_id          uuid NOT NULL REFERENCES users (id),
    participant_sid  text NOT NULL,
    joined_at        timestamptz NOT NULL,
    left_at          timestamptz,
    duration_seconds integer,
    UNIQUE (class_id, participant_sid)
);
CREATE INDEX attendance_user_idx ON attendance (user_id, class_id);

-- +goose Down
DROP TABLE attendance;
DROP TABLE webhook_events;
