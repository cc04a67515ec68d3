-- Identity and tenancy: users, organizations, memberships, refresh tokens, agent API keys.

CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    email              text        NOT NULL,
    -- Trimmed and lower-cased: uniqueness is case-insensitive, the address as typed is kept for display.
    email_normalized   text        NOT NULL CONSTRAINT users_email_normalized_key UNIQUE,
    display_name       text        NOT NULL,
    password_hash      text        NOT NULL,
    failed_login_count integer     NOT NULL DEFAULT 0,
    locked_until       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text        NOT NULL,
    -- The creator may delete their account later; the organization stays.
    created_by uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);
CREATE INDEX organizations_created_by_idx ON organizations (created_by);

CREATE TABLE memberships (
    -- Organizations are soft-deleted; a hard delete (data purge) takes memberships along, as does deleting a user.
    org_id     uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    -- Every token rotated from one login shares a family; reuse of a consumed token revokes the whole family.
    family_id   uuid        NOT NULL,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea       NOT NULL CONSTRAINT refresh_tokens_token_hash_key UNIQUE,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);

CREATE TABLE api_keys (
    id                   uuid PRIMARY KEY,
    org_id               uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                 text        NOT NULL,
    -- The public part of the key, used to find it; the secret is stored only as SHA-256.
    prefix               text        NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
    secret_hash          bytea       NOT NULL,
    -- After a rotation with a grace period, the previous secret keeps working until previous_valid_until.
    previous_secret_hash bytea,
    previous_valid_until timestamptz,
    permissions          text[]      NOT NULL DEFAULT ARRAY['ingest'],
    created_by           uuid        REFERENCES users (id) ON DELETE SET NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    last_used_at         timestamptz,
    revoked_at           timestamptz
);
CREATE INDEX api_keys_org_id_idx ON api_keys (org_id);
CREATE INDEX api_keys_created_by_idx ON api_keys (created_by);

ALTER TABLE audit_log ADD COLUMN request_id text;
