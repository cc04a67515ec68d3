-- Pattern detection, suggestions and the overview's rollups. The detector reads events incrementally: each run
-- takes the events received since the organization's watermark plus each source's open session, closes the sessions
-- that ended, and keeps them in a compact form (item hashes and offsets, about 20 bytes an event) that mining reads.

-- Events are found by arrival; a BRIN index is nearly free on insert since received_at grows with the table.
CREATE INDEX events_received_brin_idx ON events USING brin (received_at);

CREATE TABLE pattern_state (
    org_id           uuid PRIMARY KEY,
    -- Every event received at or before this instant has been read into a session (closed or open).
    watermark        timestamptz NOT NULL DEFAULT '-infinity',
    requested_at     timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    status           text        NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'running', 'succeeded', 'failed')),
    error            text,
    stats            jsonb
);

-- The open session of each source: its events are read again by the next run, until the source has been quiet for
-- the session gap or a later event starts a new session.
CREATE TABLE pattern_sources (
    org_id           uuid        NOT NULL,
    source_id        uuid        NOT NULL,
    tail_start       timestamptz,
    last_received_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, source_id)
);
CREATE INDEX pattern_sources_open_idx ON pattern_sources (org_id) WHERE tail_start IS NOT NULL;

-- Closed sessions. items/exacts hold 64-bit hashes of (type, tool, path template) and (type, tool, exact path),
-- offsets the whole seconds from started_at (32-bit), each a packed little-endian array: read and written as raw bytes,
-- several times faster than PostgreSQL arrays, whose binary form frames every element. With the source and the exact
-- item, an offset finds an example event again.
CREATE TABLE pattern_sessions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id      uuid        NOT NULL,
    source_id   uuid        NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL,
    items       bytea       NOT NULL,
    exacts      bytea       NOT NULL,
    offsets     bytea       NOT NULL
);
CREATE INDEX pattern_sessions_time_idx ON pattern_sessions (org_id, started_at);

-- What a hash stands for: written once per new item, read only for the items of reported patterns.
CREATE TABLE pattern_items (
    org_id uuid   NOT NULL,
    hash   bigint NOT NULL,
    type   text   NOT NULL,
    tool   text,
    path   text   NOT NULL,
    exact  boolean NOT NULL,
    PRIMARY KEY (org_id, hash)
);

CREATE TABLE patterns (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL,
    kind             text        NOT NULL CHECK (kind IN ('sequence', 'schedule', 'co_occurrence')),
    fingerprint      text        NOT NULL,
    steps            jsonb       NOT NULL,
    schedule         jsonb,
    source_id        uuid,
    support_sessions integer     NOT NULL,
    support_days     integer     NOT NULL,
    confidence       double precision NOT NULL,
    lift             double precision NOT NULL,
    first_seen_at    timestamptz NOT NULL,
    last_seen_at     timestamptz NOT NULL,
    examples         uuid[]      NOT NULL,
    -- False once a later detection no longer finds it (kept: a suggestion may point at it).
    active           boolean     NOT NULL DEFAULT true,
    detected_at      timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT patterns_fingerprint_key UNIQUE (org_id, fingerprint)
);
CREATE INDEX patterns_org_idx ON patterns (org_id, support_sessions DESC, id) WHERE active;

CREATE TABLE suggestions (
    id            uuid PRIMARY KEY,
    org_id        uuid        NOT NULL,
    pattern_id    uuid        REFERENCES patterns (id) ON DELETE SET NULL,
    -- One suggestion per pattern fingerprint, ever: a dismissed one is never proposed again.
    fingerprint   text        NOT NULL,
    kind          text        NOT NULL,
    status        text        NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'accepted', 'dismissed', 'snoozed')),
    score         integer     NOT NULL,
    title         text        NOT NULL,
    explanation   text        NOT NULL,
    evidence      jsonb       NOT NULL,
    draft         jsonb       NOT NULL,
    snoozed_until timestamptz,
    workflow_id   uuid,
    decided_by    uuid,
    decided_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT suggestions_fingerprint_key UNIQUE (org_id, fingerprint)
);
CREATE INDEX suggestions_org_idx ON suggestions (org_id, status, score DESC, id DESC);

-- Rollups of events by the day they occurred (UTC), kept by the detector from the events it reads once; the
-- overview adds the few events received since the watermark.
CREATE TABLE event_rollup_types (
    org_id uuid NOT NULL, day date NOT NULL, type text NOT NULL, events bigint NOT NULL,
    PRIMARY KEY (org_id, day, type)
);
CREATE TABLE event_rollup_sources (
    org_id uuid NOT NULL, day date NOT NULL, source_id uuid NOT NULL, events bigint NOT NULL,
    PRIMARY KEY (org_id, day, source_id)
);
CREATE TABLE event_rollup_paths (
    org_id uuid NOT NULL, day date NOT NULL, template text NOT NULL, events bigint NOT NULL,
    PRIMARY KEY (org_id, day, template)
);
