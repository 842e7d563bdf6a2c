-- +goose Up
-- Discount codes belong to a teacher and apply either to one of their classes (class_id set)
-- or to all of them. Codes are unique per teacher, case-insensitively.
CREATE TABLE discount_codes (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    teacher_id  uuid NOT NULL REFERENCES users (id),
    class_id    uuid REFERENCES classes (id),
    code        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('percent', 'fixed')),
    amount      integer NOT NULL CHECK (amount > 0),
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    max_uses    integer NOT NULL CHECK (max_uses > 0),
    uses        integer NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    disabled_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'percent' OR amount <= 100),
    CHECK (valid_until > valid_from)
);
CREATE UNIQUE INDEX discount_codes_code_key ON discount_codes (teacher_id, upper(code));

-- +goose Down
DROP TABLE discount_codes;
