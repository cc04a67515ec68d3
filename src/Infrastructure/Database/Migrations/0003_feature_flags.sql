-- Runtime values of the catalogue's feature flags. A flag without a row uses its declared safe default.
CREATE TABLE feature_flags (
    name       text        PRIMARY KEY,
    enabled    boolean     NOT NULL,
    -- Audience of a release flag (users, org groups with rollout percentages, default percentage, exclusions).
    targeting  jsonb,
    updated_by text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    reason     text        NOT NULL CHECK (length(btrim(reason)) > 0)
);

-- The admin audit API filters by actor and target as well as by action and organization.
CREATE INDEX audit_log_actor_occurred_at_idx ON audit_log (actor_id, occurred_at DESC, id DESC) WHERE actor_id IS NOT NULL;
CREATE INDEX audit_log_target_occurred_at_idx ON audit_log (target_type, target_id, occurred_at DESC, id DESC) WHERE target_type IS NOT NULL;
