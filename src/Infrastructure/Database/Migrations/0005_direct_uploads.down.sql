DROP INDEX IF EXISTS uploads_expiry_idx;
CREATE INDEX uploads_pending_expiry_idx ON uploads (expires_at) WHERE status = 'pending';
ALTER TABLE uploads DROP CONSTRAINT uploads_pending_check;
ALTER TABLE uploads DROP CONSTRAINT uploads_ready_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_check CHECK (status <> 'ready' OR (sha256 IS NOT NULL AND completed_at IS NOT NULL));
ALTER TABLE uploads DROP COLUMN transfer;
