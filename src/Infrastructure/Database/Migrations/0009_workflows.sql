-- Workflows: a definition saved as immutable versions, runs claimed by any instance's workers, the fires of
-- schedules (exactly once per (workflow, time), enforced by the primary key), and the hand-off from event ingest.
CREATE TABLE workflows (
    id           uuid        PRIMARY KEY,
    org_id       uuid        NOT NULL REFERENCES organizations (id),
    name         text        NOT NULL,
    enabled      boolean     NOT NULL DEFAULT false,
    version      integer     NOT NULL,
    trigger_type text        NOT NULL CHECK (trigger_type IN ('event', 'schedule', 'manual')),
    -- The next time a schedule fires; set while an enabled schedule workflow exists, cleared otherwise.
    next_fire_at timestamptz,
    created_by   uuid        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz
);
CREATE INDEX workflows_org_idx ON workflows (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
-- The scheduler's claim: enabled schedules that are due.
CREATE INDEX workflows_due_idx ON workflows (next_fire_at) WHERE enabled AND deleted_at IS NULL AND trigger_type = 'schedule';
-- Ingest asks "does this org have an enabled event workflow?" once per batch.
CREATE INDEX workflows_event_idx ON workflows (org_id) WHERE enabled AND deleted_at IS NULL AND trigger_type = 'event';

-- Every save of a definition; a run names the version it ran.
CREATE TABLE workflow_versions (
    workflow_id uuid        NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version     integer     NOT NULL,
    definition  jsonb       NOT NULL,
    created_by  uuid        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE workflow_runs (
    id                  uuid        PRIMARY KEY,
    org_id              uuid        NOT NULL,
    workflow_id         uuid        NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    version             integer     NOT NULL,
    trigger_type        text        NOT NULL CHECK (trigger_type IN ('event', 'schedule', 'manual', 'retry')),
    -- For a schedule's run, the fire it belongs to: a second run of the same fire cannot be inserted.
    scheduled_for       timestamptz,
    trigger_data        jsonb       NOT NULL DEFAULT '{}',
    input               jsonb,
    status              text        NOT NULL DEFAULT 'queued'
                        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    -- The first step not yet finished: a run picked up after a crash continues there.
    next_step           integer     NOT NULL DEFAULT 0,
    -- When a worker may take it (now, or after a delay step or a retry's backoff).
    due_at              timestamptz NOT NULL DEFAULT now(),
    timeout_seconds     integer     NOT NULL,
    deadline_at         timestamptz,
    lease_owner         text,
    lease_expires_at    timestamptz,
    cancel_requested_at timestamptz,
    retry_of            uuid,
    error_class         text,
    error               text,
    created_by          uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz
);
CREATE UNIQUE INDEX workflow_runs_fire_idx ON workflow_runs (workflow_id, scheduled_for) WHERE scheduled_for IS NOT NULL;
-- The workers' claim: unfinished runs by due time; small, because finished runs leave it.
CREATE INDEX workflow_runs_due_idx ON workflow_runs (due_at) WHERE status IN ('queued', 'running');
-- The claim's limits: runs of an organization held by workers, started runs of a workflow.
CREATE INDEX workflow_runs_active_idx ON workflow_runs (org_id, workflow_id) WHERE status IN ('queued', 'running');
CREATE INDEX workflow_runs_org_idx ON workflow_runs (org_id, created_at DESC, id DESC);
CREATE INDEX workflow_runs_workflow_idx ON workflow_runs (workflow_id, created_at DESC, id DESC);
CREATE INDEX workflow_runs_finished_idx ON workflow_runs (finished_at) WHERE finished_at IS NOT NULL;

-- Each step as it happened, written in the transaction that moves the run past it.
CREATE TABLE workflow_run_steps (
    run_id      uuid        NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    index       integer     NOT NULL,
    name        text        NOT NULL,
    type        text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('waiting', 'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out')),
    attempts    integer     NOT NULL DEFAULT 0,
    input       jsonb,
    output      jsonb,
    error_class text,
    error       text,
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (run_id, index)
);

-- One row per fire of a schedule, whatever came of it: the key makes each fire happen once across all instances.
CREATE TABLE workflow_fires (
    workflow_id   uuid        NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    scheduled_for timestamptz NOT NULL,
    outcome       text        NOT NULL CHECK (outcome IN ('run', 'skipped')),
    reason        text,
    run_id        uuid,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, scheduled_for)
);

-- Ingested events handed to the trigger matcher: written in the ingest transaction (only when the org has an
-- enabled event workflow), consumed after commit by any instance.
CREATE TABLE workflow_event_batches (
    id         bigserial   PRIMARY KEY,
    org_id     uuid        NOT NULL,
    event_ids  uuid[]      NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A debounce window in progress: matching events gather here until fire_at, then start one run.
CREATE TABLE workflow_debounces (
    workflow_id uuid        PRIMARY KEY REFERENCES workflows (id) ON DELETE CASCADE,
    org_id      uuid        NOT NULL,
    version     integer     NOT NULL,
    events      jsonb       NOT NULL,
    event_count integer     NOT NULL,
    fire_at     timestamptz NOT NULL
);
CREATE INDEX workflow_debounces_due_idx ON workflow_debounces (fire_at);

-- Stream events and notifications waiting to be numbered into users' streams: organization events (run.updated,
-- user_ids NULL: every member at the time) and notifications of workflow steps (user_ids given). Writers insert here,
-- in their own transaction, without touching stream_heads: numbering locks each recipient's head until commit, and a
-- busy organization's runs would all queue on those locks. One drainer at a time numbers them in batches (in id
-- order, so one run's updates stay in order).
CREATE TABLE stream_outbox (
    id           bigserial   PRIMARY KEY,
    org_id       uuid        NOT NULL,
    user_ids     uuid[],
    type         text        NOT NULL,
    data         jsonb       NOT NULL,
    -- For a notification: {"type", "title", "body"}; its data is `data`.
    notification jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
