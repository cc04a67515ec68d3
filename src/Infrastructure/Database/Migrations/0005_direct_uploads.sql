-- Direct-from-browser uploads: the browser PUTs the file to S3 with a presigned URL and the service checks it on
-- completion (size, type, leading bytes). The service never reads such a file whole, so it has no SHA-256 of it.
ALTER TABLE uploads ADD COLUMN transfer text NOT NULL DEFAULT 'api' CHECK (transfer IN ('api', 'direct'));

ALTER TABLE uploads DROP CONSTRAINT uploads_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_ready_check
    CHECK (status <> 'ready' OR (completed_at IS NOT NULL AND (sha256 IS NOT NULL OR transfer = 'direct')));
ALTER TABLE uploads ADD CONSTRAINT uploads_pending_check CHECK (status <> 'pending' OR expires_at IS NOT NULL);

-- expires_at is now "when the cleanup job must make sure no object is left": set while a presigned URL may still
-- create the object (pending, or deleted before completing), cleared once the object is settled.
DROP INDEX uploads_pending_expiry_idx;
CREATE INDEX uploads_expiry_idx ON uploads (expires_at) WHERE expires_at IS NOT NULL;
