DROP INDEX IF EXISTS audit_log_target_idx;
DROP INDEX IF EXISTS audit_log_actor_idx;
ALTER TABLE users DROP COLUMN IF EXISTS deleted_at;
DROP TABLE IF EXISTS privacy_policies;
