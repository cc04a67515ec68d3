-- Files stored in S3. A row is 'ready' only once its object exists; 'pending' rows (direct-from-browser uploads
-- not yet completed) expire; 'deleted' rows keep the history after their object is gone.
CREATE TABLE uploads (
    id            uuid        PRIMARY KEY,
    org_id        uuid        NOT NULL REFERENCES organizations (id),
    uploader_type text        NOT NULL CHECK (uploader_type IN ('user', 'api_key')),
    uploader_id   uuid        NOT NULL,
    file_name     text        NOT NULL,
    content_type  text        NOT NULL,
    size_bytes    bigint      NOT NULL CHECK (size_bytes >= 0),
    sha256        text,
    storage_key   text        NOT NULL UNIQUE,
    status        text        NOT NULL CHECK (status IN ('pending', 'ready', 'deleted')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    completed_at  timestamptz,
    deleted_at    timestamptz,
    CHECK (status <> 'ready' OR (sha256 IS NOT NULL AND completed_at IS NOT NULL))
);

-- Listing an organization's uploads newest first, optionally by status or uploader.
CREATE INDEX uploads_org_created_idx ON uploads (org_id, created_at DESC, id DESC);
CREATE INDEX uploads_org_uploader_created_idx ON uploads (org_id, uploader_id, created_at DESC, id DESC);
-- The cleanup job's scan for expired pending uploads.
CREATE INDEX uploads_pending_expiry_idx ON uploads (expires_at) WHERE status = 'pending';
