-- +goose Up
-- The classroom chat, stored with the class so late joiners see the history (issue 14).
-- A message to_teacher is private: only its author, the class's teacher and admins see it.
-- Deleting a class deletes its chat.
CREATE TABLE class_chat_messages (
    id         bigserial PRIMARY KEY,
    class_id   uuid NOT NULL REFERENCES classes (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id),
    body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 1000),
    to_teacher boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX class_chat_messages_class_idx ON class_chat_messages (class_id, id);

-- +goose Down
DROP TABLE class_chat_messages;
