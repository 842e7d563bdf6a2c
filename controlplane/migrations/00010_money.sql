-- +goose Up
-- Bookings, waitlists, refunds, disputes, class settlement, credit purchases, Stripe events,
-- payouts (docs/money.md). Credits move only through the ledger; these tables record the
-- business facts and carry the uniqueness that makes each event happen once.

-- A seat in a class. paid - refunded - fee is what the class escrow holds for the booking
-- until the class settles. One confirmed booking per student and class; one booking per
-- (student, Idempotency-Key), so a repeated request finds the first.
CREATE TABLE bookings (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    class_id         uuid NOT NULL REFERENCES classes (id),
    student_id       uuid NOT NULL REFERENCES users (id),
    status           text NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled', 'refunded')),
    price_credits    integer NOT NULL CHECK (price_credits >= 0),
    paid_credits     integer NOT NULL CHECK (paid_credits >= 0),
    refunded_credits integer NOT NULL DEFAULT 0 CHECK (refunded_credits >= 0),
    fee_credits      integer NOT NULL DEFAULT 0 CHECK (fee_credits >= 0),
    discount_code_id uuid REFERENCES discount_codes (id),
    idempotency_key  text NOT NULL,
    created_at       timestamptz NOT NULL,
    cancelled_at     timestamptz,
    CHECK (refunded_credits + fee_credits <= paid_credits),
    UNIQUE (student_id, idempotency_key)
);
CREATE UNIQUE INDEX bookings_one_active ON bookings (class_id, student_id) WHERE status = 'confirmed';
CREATE INDEX bookings_student_idx ON bookings (student_id, created_at DESC);
CREATE INDEX bookings_class_idx ON bookings (class_id, status);

-- Waitlist, first come first served. An offer reserves a freed seat for offer_expires_at.
CREATE TABLE waitlist_entries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    class_id         uuid NOT NULL REFERENCES classes (id),
    student_id       uuid NOT NULL REFERENCES users (id),
    status           text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'left', 'closed')),
    offered_at       timestamptz,
    offer_expires_at timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    UNIQUE (class_id, student_id)
);
CREATE INDEX waitlist_queue_idx ON waitlist_entries (class_id, created_at, id) WHERE status = 'waiting';
CREATE INDEX waitlist_offers_idx ON waitlist_entries (offer_expires_at) WHERE status = 'offered';

-- In-app notification records (waitlist offers, refunds).
CREATE TABLE money_notifications (
    id         bigserial PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id),
    kind       text NOT NULL,
    title      text NOT NULL,
    body       text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}'::jsonb,
    read_at    timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX money_notifications_user_idx ON money_notifications (user_id, id DESC);

-- Refunds with the rule that caused each: at most one per booking and rule (an admin's
-- partial refund does not stop the no-show refund of the rest); bookings' CHECK keeps the
-- total within what was paid.
CREATE TABLE refunds (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id  uuid NOT NULL REFERENCES bookings (id),
    class_id    uuid NOT NULL REFERENCES classes (id),
    student_id  uuid NOT NULL REFERENCES users (id),
    rule        text NOT NULL CHECK (rule IN ('teacher_no_show', 'early_end', 'class_cancelled',
                                              'student_cancellation', 'admin', 'dispute')),
    reason      text NOT NULL,
    credits     integer NOT NULL CHECK (credits >= 0),
    fee_credits integer NOT NULL DEFAULT 0 CHECK (fee_credits >= 0),
    actor_id    uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL,
    UNIQUE (booking_id, rule)
);
CREATE INDEX refunds_created_idx ON refunds (created_at DESC, id);

CREATE TABLE disputes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id      uuid NOT NULL UNIQUE REFERENCES bookings (id),
    student_id      uuid NOT NULL REFERENCES users (id),
    reason          text NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'refunded', 'rejected')),
    resolution_note text NOT NULL DEFAULT '',
    resolved_by     uuid REFERENCES users (id),
    resolved_at     timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE INDEX disputes_status_idx ON disputes (status, created_at);

-- How a class ended for money purposes, written once: no-show and cancellation refund
-- everyone; early end refunds part; settlement moves the escrow left to the teacher.
CREATE TABLE class_outcomes (
    class_id           uuid PRIMARY KEY REFERENCES classes (id),
    outcome            text NOT NULL CHECK (outcome IN ('no_show', 'cancelled', 'early_end', 'completed')),
    teacher_id         uuid NOT NULL REFERENCES users (id),
    gross_credits      integer NOT NULL DEFAULT 0,
    refunded_credits   integer NOT NULL DEFAULT 0,
    commission_credits integer NOT NULL DEFAULT 0,
    teacher_credits    integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL
);
CREATE INDEX class_outcomes_teacher_idx ON class_outcomes (teacher_id, created_at);

CREATE TABLE credit_purchases (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                  uuid NOT NULL REFERENCES users (id),
    package_id               text NOT NULL,
    credits                  integer NOT NULL CHECK (credits > 0),
    amount_cents             bigint NOT NULL CHECK (amount_cents > 0),
    currency                 text NOT NULL,
    status                   text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid', 'failed', 'cancelled')),
    idempotency_key          text NOT NULL,
    stripe_session_id        text UNIQUE,
    stripe_payment_intent_id text,
    checkout_url             text NOT NULL DEFAULT '',
    failure_reason           text NOT NULL DEFAULT '',
    created_at               timestamptz NOT NULL,
    updated_at               timestamptz NOT NULL,
    paid_at                  timestamptz,
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX credit_purchases_user_idx ON credit_purchases (user_id, created_at DESC);

-- Stripe webhook events by id: a redelivery finds its row and changes nothing; a failed one
-- is retried by the billing.stripe_event job from the stored payload.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    status       text NOT NULL CHECK (status IN ('processed', 'ignored', 'failed')),
    attempts     integer NOT NULL DEFAULT 1,
    last_error   text NOT NULL DEFAULT '',
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);

CREATE TABLE payouts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    teacher_id         uuid NOT NULL REFERENCES users (id),
    credits            integer NOT NULL CHECK (credits > 0),
    amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
    currency           text NOT NULL,
    destination        text NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'paid', 'rejected')),
    stripe_transfer_id text,
    last_error         text NOT NULL DEFAULT '',
    note               text NOT NULL DEFAULT '',
    decided_by         uuid REFERENCES users (id),
    created_at         timestamptz NOT NULL,
    decided_at         timestamptz,
    paid_at            timestamptz
);
CREATE INDEX payouts_teacher_idx ON payouts (teacher_id, created_at DESC);
CREATE INDEX payouts_status_idx ON payouts (status, created_at);

CREATE TABLE reconciliation_runs (
    id            bigserial PRIMARY KEY,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    checked       integer NOT NULL,
    fixed         integer NOT NULL,
    discrepancies jsonb NOT NULL DEFAULT '[]'::jsonb
);

-- +goose Down
DROP TABLE reconciliation_runs;
DROP TABLE payouts;
DROP TABLE stripe_events;
DROP TABLE credit_purchases;
DROP TABLE class_outcomes;
DROP TABLE disputes;
DROP TABLE refunds;
DROP TABLE money_notifications;
DROP TABLE waitlist_entries;
DROP TABLE bookings;
