-- Shared foundation: the audit trail every later feature writes to.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor_type  text        NOT NULL CHECK (actor_type IN ('user', 'api_key', 'system', 'operator')),
    actor_id    text,
    org_id      uuid,
    action      text        NOT NULL,
    target_type text,
    target_id   text,
    data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    trace_id    text
);

-- Newest-first listing, overall and per organization / action (admin audit API).
CREATE INDEX audit_log_occurred_at_idx ON audit_log (occurred_at DESC, id DESC);
CREATE INDEX audit_log_org_occurred_at_idx ON audit_log (org_id, occurred_at DESC, id DESC) WHERE org_id IS NOT NULL;
CREATE INDEX audit_log_action_occurred_at_idx ON audit_log (action, occurred_at DESC, id DESC);
