-- Notifications and the live stream. Every user has one stream of events numbered 1, 2, 3...: the number is taken
-- from stream_heads in the transaction that writes the event, and that row stays locked until commit, so numbers
-- are committed in order and without holes. A client that has seen N can therefore resume with "everything > N".
CREATE TABLE stream_heads (
    user_id  uuid   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    last_seq bigint NOT NULL
);

-- The replay log: each event as the stream sends it, kept for Stream:ReplayHours. org_id is set for an
-- organization's events (run.updated, ...), which are only sent while the user is still a member.
CREATE TABLE stream_events (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    type       text        NOT NULL,
    org_id     uuid,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, seq)
);
CREATE INDEX stream_events_created_idx ON stream_events (created_at);

-- A notification's id is the number of the notification.created event that announced it: per user, increasing
-- in commit order, so "mark read up to N" never touches a notification the client has not seen.
CREATE TABLE notifications (
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id         bigint      NOT NULL,
    org_id     uuid,
    type       text        NOT NULL,
    title      text        NOT NULL,
    body       text,
    data       jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at    timestamptz,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id) WHERE read_at IS NULL;
CREATE INDEX notifications_type_idx ON notifications (user_id, type, id);
CREATE INDEX notifications_created_idx ON notifications (created_at);

-- One-time tickets for EventSource, which cannot send an Authorization header. Only the SHA-256 of a ticket is
-- stored; redeeming deletes the row, so a ticket works once, on any instance.
CREATE TABLE stream_tickets (
    ticket_hash      bytea       PRIMARY KEY,
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The access token behind the ticket expires then, and so does the stream opened with it.
    token_expires_at timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);
CREATE INDEX stream_tickets_expires_idx ON stream_tickets (expires_at);
