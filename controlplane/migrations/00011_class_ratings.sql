-- +goose Up
-- A student's rating of a class they attended, one per student and class. The teacher's
-- aggregate (users.rating_sum, rating_count) is updated in the same transaction.
CREATE TABLE class_ratings (
    class_id   uuid NOT NULL REFERENCES classes (id),
    student_id uuid NOT NULL REFERENCES users (id),
    teacher_id uuid NOT NULL REFERENCES users (id),
    stars      smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (class_id, student_id)
);
CREATE INDEX class_ratings_teacher_idx ON class_ratings (teacher_id, created_at DESC);

-- +goose Down
DROP TABLE class_ratings;
