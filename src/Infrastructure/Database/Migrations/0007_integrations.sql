-- Integrations an organization configures (a webhook endpoint, a Slack incoming webhook) and the outbox of messages
-- to them. Secrets (signing secrets, the Slack URL, header values) live only in `secrets`, AES-256-GCM encrypted by
-- the service; the key id inside each ciphertext lets `secrets rotate` find rows still under an old key.
CREATE TABLE integrations (
    id                         uuid        PRIMARY KEY,
    org_id                     uuid        NOT NULL REFERENCES organizations (id),
    kind                       text        NOT NULL,
    name                       text        NOT NULL,
    -- The non-secret destination shown to members (the webhook URL); NULL when the URL itself is the secret (Slack).
    url                        text,
    header_names               text[]      NOT NULL DEFAULT '{}',
    secrets                    bytea       NOT NULL,
    secret_key_id              text        NOT NULL,
    secret_hint                text        NOT NULL,
    -- During a signing-secret rotation's grace period both secrets sign; the old one is in `secrets` until then.
    previous_secret_expires_at timestamptz,
    enabled                    boolean     NOT NULL DEFAULT true,
    version                    integer     NOT NULL DEFAULT 1,
    created_by                 uuid        NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    deleted_at                 timestamptz
);
CREATE INDEX integrations_org_idx ON integrations (org_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX integrations_key_idx ON integrations (secret_key_id);

-- One row per message: written in the transaction that caused it, claimed by any instance's worker (a lease:
-- next_attempt_at moves past now() while an attempt runs, so a crashed instance's claims come due again).
CREATE TABLE webhook_deliveries (
    id                    uuid        PRIMARY KEY,
    org_id                uuid        NOT NULL,
    integration_id        uuid        NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    event_type            text        NOT NULL,
    payload               jsonb       NOT NULL,
    status                text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts              integer     NOT NULL DEFAULT 0,
    max_attempts          integer     NOT NULL,
    next_attempt_at       timestamptz NOT NULL DEFAULT now(),
    claimed_by            text,        -- the instance holding the claim; after completion, the one that made the last attempt
    last_attempt_at       timestamptz,
    last_status_code      integer,
    last_error_class      text,
    last_error            text,
    last_latency_ms       integer,
    last_response_excerpt text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    completed_at          timestamptz
);
-- The workers' claim: due pending rows in time order; small, because delivered rows leave it.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- The delivery log of one integration, newest first.
CREATE INDEX webhook_deliveries_integration_idx ON webhook_deliveries (integration_id, created_at DESC, id DESC);
-- Retention prunes completed rows by age.
CREATE INDEX webhook_deliveries_completed_idx ON webhook_deliveries (completed_at) WHERE status <> 'pending';
