DROP INDEX IF EXISTS audit_log_target_occurred_at_idx;
DROP INDEX IF EXISTS audit_log_actor_occurred_at_idx;
DROP TABLE IF EXISTS feature_flags;
