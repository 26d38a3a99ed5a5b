-- wflo schema 5 (PostgreSQL): human approval gates. A pending approval outlives the process that
-- asked for it: a restarted workflow finds it again by (execution, key) and waits on, or goes
-- on if it was approved meanwhile.

CREATE TABLE approvals (
    id               TEXT PRIMARY KEY,
    execution_id     TEXT NOT NULL,
    gate             TEXT NOT NULL,
    what             TEXT NOT NULL,
    why              TEXT NOT NULL,
    worst_case_nanos BIGINT,
    requested_by     TEXT NOT NULL,
    on_timeout       TEXT NOT NULL,
    status           TEXT NOT NULL,
    note             TEXT,
    decided_by       TEXT,
    created_at_ms    BIGINT NOT NULL,
    expires_at_ms    BIGINT,
    decided_at_ms    BIGINT,
    UNIQUE (execution_id, gate)
);
CREATE INDEX approvals_by_status ON approvals (status, created_at_ms);
