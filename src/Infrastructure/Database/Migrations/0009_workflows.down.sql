DROP TABLE IF EXISTS stream_outbox;
DROP TABLE IF EXISTS workflow_debounces;
DROP TABLE IF EXISTS workflow_event_batches;
DROP TABLE IF EXISTS workflow_fires;
DROP TABLE IF EXISTS workflow_run_steps;
DROP TABLE IF EXISTS workflow_runs;
DROP TABLE IF EXISTS workflow_versions;
DROP TABLE IF EXISTS workflows;
