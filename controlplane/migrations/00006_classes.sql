-- +goose Up
-- Live classes. seats_taken is maintained by bookings (UPDATE ... WHERE seats_taken < capacity
-- is the oversell guard) and doubles as the popularity signal for discovery.
CREATE TABLE classes (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    teacher_id           uuid NOT NULL REFERENCES users (id),
    title                text NOT NULL,
    topic                text NOT NULL,
    description          text NOT NULL DEFAULT '',
    starts_at            timestamptz NOT NULL,
    duration_minutes     integer NOT NULL CHECK (duration_minutes > 0),
    time_zone            text NOT NULL DEFAULT 'UTC',
    capacity             integer NOT NULL CHECK (capacity > 0),
    seats_taken          integer NOT NULL DEFAULT 0 CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    tier                 text NOT NULL CHECK (tier IN ('basic', 'premium', 'vip')),
    price_credits        integer NOT NULL CHECK (price_credits >= 0),
    recordable           boolean NOT NULL DEFAULT false,
    students_can_publish boolean NOT NULL DEFAULT true,
    status               text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    cancelled_at         timestamptz,
    cancel_reason        text NOT NULL DEFAULT '',
    room_started_at      timestamptz,
    teacher_joined_at    timestamptz,
    room_finished_at     timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    search               tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', topic), 'B') ||
        setweight(to_tsvector('english', description), 'C')) STORED
);
CREATE INDEX classes_search_idx ON classes USING gin (search);
CREATE INDEX classes_start_idx ON classes (starts_at, id) WHERE status = 'scheduled';
CREATE INDEX classes_price_idx ON classes (price_credits, id) WHERE status = 'scheduled';
CREATE INDEX classes_popular_idx ON classes (seats_taken DESC, id DESC) WHERE status = 'scheduled';
CREATE INDEX classes_teacher_idx ON classes (teacher_id, starts_at);
CREATE INDEX classes_topic_idx ON classes (lower(topic), starts_at) WHERE status = 'scheduled';

-- +goose Down
DROP TABLE classes;
