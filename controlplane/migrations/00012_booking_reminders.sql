-- +goose Up
-- When the "starting soon" reminder of a booking was queued (once per booking; docs/money.md).
ALTER TABLE bookings ADD COLUMN reminded_at timestamptz;
CREATE INDEX bookings_unreminded_idx ON bookings (class_id) WHERE status = 'confirmed' AND reminded_at IS NULL;

-- +goose Down
DROP INDEX bookings_unreminded_idx;
ALTER TABLE bookings DROP COLUMN reminded_at;
