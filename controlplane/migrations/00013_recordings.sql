-- +goose Up
-- Recordings of class rooms (docs/recording.md): one row per egress, fed by the recorders'
-- egress webhooks; objects live in S3 under playlist_key's folder.
CREATE TABLE recordings (
    egress_id        text PRIMARY KEY,
    class_id         uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    state            text NOT NULL DEFAULT 'starting'
                     CHECK (state IN ('starting', 'active', 'ending', 'complete', 'failed', 'deleted')),
    playlist_key     text NOT NULL,
    started_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    started_at       timestamptz,
    ended_at         timestamptz,
    duration_seconds double precision NOT NULL DEFAULT 0,
    size_bytes       bigint NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '',
    details          text NOT NULL DEFAULT '',
    -- expires_at is when the retention job deletes it (set when it ends).
    expires_at       timestamptz,
    deleted_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recordings_class_idx ON recordings (class_id, created_at);
CREATE INDEX recordings_expiry_idx ON recordings (expires_at) WHERE state <> 'deleted';

-- Per-class recording settings: start recording when the teacher joins, and how long
-- recordings are kept (NULL: the configured default).
CREATE TABLE class_recording_settings (
    class_id       uuid PRIMARY KEY REFERENCES classes (id) ON DELETE CASCADE,
    auto_record    boolean NOT NULL DEFAULT false,
    retention_days integer CHECK (retention_days BETWEEN 1 AND 3650),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE class_recording_settings;
DROP TABLE recordings;
