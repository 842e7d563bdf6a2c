-- +goose Up
-- Class lifecycle (docs/classes.md). A class runs from its start to its scheduled end or the
-- teacher's explicit End; an empty room in between is not the end. Settlement is decided
-- once, after the window, from attendance over the whole window.
--   ended_at/ended_by: "End class for everyone" (teacher or admin); the window closes there.
--   teacher_showed: the no-show deadline passed with the teacher present, so the sweep stops
--     checking for a no-show (the final settlement still judges the whole window).
--   room_closed_at: the control plane closed the room once the window closed, so every
--     session still open afterwards was cut by a failure, not still in the room.
ALTER TABLE classes
    ADD COLUMN ended_at       timestamptz,
    ADD COLUMN ended_by       uuid REFERENCES users (id),
    ADD COLUMN teacher_showed boolean NOT NULL DEFAULT false,
    ADD COLUMN room_closed_at timestamptz;

-- Which incarnation of the room (LiveKit room sid: a new one when the room restarts or moves
-- to another node) a session belongs to. A session left open by a dead node is judged by
-- the last event seen from its own incarnation.
ALTER TABLE attendance ADD COLUMN room_sid text NOT NULL DEFAULT '';
CREATE INDEX attendance_room_sid_idx ON attendance (class_id, room_sid);

-- +goose Down
DROP INDEX attendance_room_sid_idx;
ALTER TABLE attendance DROP COLUMN room_sid;
ALTER TABLE classes DROP COLUMN room_closed_at, DROP COLUMN teacher_showed, DROP COLUMN ended_by,
    DROP COLUMN ended_at;
