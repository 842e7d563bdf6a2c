-- +goose Up
-- Simple classroom polls: the teacher asks a question with 2 to 6 options; each person in
-- the class votes once (the primary key of class_poll_votes); results are counted from the
-- votes. Deleting a class deletes its polls and their votes.
CREATE TABLE class_polls (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    class_id   uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    created_by uuid NOT NULL REFERENCES users (id),
    question   text NOT NULL CHECK (char_length(question) BETWEEN 1 AND 300),
    options    text[] NOT NULL CHECK (cardinality(options) BETWEEN 2 AND 6),
    closed_at  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX class_polls_class_idx ON class_polls (class_id, created_at);

CREATE TABLE class_poll_votes (
    poll_id    uuid NOT NULL REFERENCES class_polls (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id),
    choice     smallint NOT NULL CHECK (choice >= 0 AND choice < 6),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (poll_id, user_id)
);

-- +goose Down
DROP TABLE class_poll_votes;
DROP TABLE class_polls;
