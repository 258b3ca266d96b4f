-- Scheduled work: each run of a job is one row, unique per (job, run_key), so that several
-- scheduler processes on one or more servers run it exactly once. A crashed holder's run is
-- taken over when its lease has expired. Nightly encrypted audit exports are recorded here.

CREATE TABLE job_run (
    id @UUID@ PRIMARY KEY,
    job TEXT NOT NULL,
    run_key TEXT NOT NULL,
    holder TEXT NOT NULL,
    started_at @TS@ NOT NULL,
    lease_until @TS@ NOT NULL,
    finished_at @TS@,
    outcome TEXT CHECK (outcome IN ('ok', 'error')),
    counts TEXT NOT NULL DEFAULT '{}',
    attempts INTEGER NOT NULL DEFAULT 1,
    UNIQUE (job, run_key)
);
CREATE INDEX job_run_started_idx ON job_run (started_at);

CREATE TABLE audit_export (
    id @UUID@ PRIMARY KEY,
    practice_id @UUID@ NOT NULL REFERENCES practice (id),
    object_key TEXT NOT NULL,
    range_start @TS@,
    range_end @TS@ NOT NULL,
    first_seq BIGINT,
    last_seq BIGINT,
    row_count INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    wrapped_key TEXT NOT NULL,
    created_at @TS@ NOT NULL
);
CREATE INDEX audit_export_practice_idx ON audit_export (practice_id, created_at);
