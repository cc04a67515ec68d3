-- File-usage events pushed by agents (source: an API key) and members (source: a user). The hottest table:
-- every index here is paid on each insert, so each one serves a query shape of GET .../events or retention.
-- No foreign key to organizations: concurrent inserts would all share-lock the same parent row (multixact
-- contention), and organizations are only ever soft-deleted; the route's authorization has already found the org.
CREATE TABLE events (
    id              uuid        PRIMARY KEY,
    org_id          uuid        NOT NULL,
    source_type     text        NOT NULL CHECK (source_type IN ('user', 'api_key')),
    source_id       uuid        NOT NULL,
    type            text        NOT NULL CHECK (type IN ('file_opened', 'file_modified', 'file_created', 'file_deleted', 'script_run', 'tool_used')),
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    path            text        NOT NULL,
    tool            text,
    duration_ms     bigint      CHECK (duration_ms >= 0),
    metadata        jsonb,
    client_event_id text
);

-- Idempotency: an event an agent re-sends (same clientEventId from the same source) is stored once.
CREATE UNIQUE INDEX events_client_event_idx ON events (org_id, source_id, client_event_id) WHERE client_event_id IS NOT NULL;
-- Listing newest first, optionally within a time range; the keyset (occurred_at, id) continues a page.
CREATE INDEX events_org_time_idx ON events (org_id, occurred_at DESC, id DESC);
-- The same, for one type or one source.
CREATE INDEX events_org_type_time_idx ON events (org_id, type, occurred_at DESC, id DESC);
CREATE INDEX events_org_source_time_idx ON events (org_id, source_id, occurred_at DESC, id DESC);
-- Path prefix filters (LIKE 'prefix%', whatever the database's collation). With the time and id in the index, the
-- newest matches are found from the index alone; only the page's rows are read from the table.
CREATE INDEX events_org_path_idx ON events (org_id, path text_pattern_ops, occurred_at DESC, id DESC);
-- Retention deletes by age across organizations; events arrive roughly in time order, so a BRIN index is tiny
-- and nearly free to maintain.
CREATE INDEX events_occurred_brin_idx ON events USING brin (occurred_at);

-- Responses of ingest requests sent with an Idempotency-Key header, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    org_id       uuid        NOT NULL,
    caller_id    uuid        NOT NULL,
    key          text        NOT NULL,
    request_hash text        NOT NULL,
    status_code  integer     NOT NULL,
    response     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (org_id, caller_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
