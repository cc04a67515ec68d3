-- Privacy at intake and data rights. An organization without a row has the default policy (paths kept, the
-- default exclusions and metadata keys, the service-wide retention).
CREATE TABLE privacy_policies (
    org_id               uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    path_mode            text        NOT NULL CHECK (path_mode IN ('keep', 'home', 'hash_dirs')),
    hash_file_names      boolean     NOT NULL DEFAULT false,
    exclude_globs        text[]      NOT NULL,
    drop_metadata_keys   text[]      NOT NULL,
    retention_days       integer     CHECK (retention_days > 0),
    -- What happens to the events of a member who deletes their account.
    departed_user_events text        NOT NULL DEFAULT 'delete' CHECK (departed_user_events IN ('delete', 'anonymize')),
    -- The key of hash_dirs, sealed under ENCRYPTION_KEY (so `secrets rotate` re-seals it and hashes never change).
    path_key             bytea       NOT NULL,
    path_key_id          text        NOT NULL,
    version              integer     NOT NULL DEFAULT 1,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           uuid
);
-- The retention job's per-organization pass.
CREATE INDEX privacy_policies_retention_idx ON privacy_policies (retention_days) WHERE retention_days IS NOT NULL;

-- A deleted account keeps its row (ids elsewhere still point at it) without anything personal; its email is free again.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;

-- The account export reads the audit entries where the user is the actor or the target.
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id) WHERE actor_type = 'user';
CREATE INDEX audit_log_target_idx ON audit_log (target_id, id) WHERE target_type = 'user';
