-- +goose Up
-- The classroom's Q&A queue: students ask, everyone in the class upvotes (once each, the
-- primary key of class_question_votes), the teacher marks a question answered. Deleting a
-- class deletes its questions and their votes.
CREATE TABLE class_questions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    class_id    uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id),
    body        text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 500),
    answered_at timestamptz,
    answered_by uuid REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX class_questions_class_idx ON class_questions (class_id, created_at);

CREATE TABLE class_question_votes (
    question_id uuid NOT NULL REFERENCES class_questions (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (question_id, user_id)
);

-- +goose Down
DROP TABLE class_question_votes;
DROP TABLE class_questions;
