-- wflo schema 1 (SQLite): executions, their calls and checkpoints.
-- Frozen: schema changes go into new numbered files.

CREATE TABLE workflow_executions (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    budget_nanos   INTEGER,
    spent_nanos    INTEGER NOT NULL DEFAULT 0,
    overrun_nanos  INTEGER NOT NULL DEFAULT 0,
    calls          INTEGER NOT NULL DEFAULT 0,
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER
);
CREATE INDEX workflow_executions_by_created ON workflow_executions (created_at_ms);

CREATE TABLE llm_calls (
    execution_id          TEXT NOT NULL REFERENCES workflow_executions (id),
    seq                   INTEGER NOT NULL,
    step                  TEXT NOT NULL,
    provider              TEXT NOT NULL,
    requested_model       TEXT NOT NULL,
    model                 TEXT,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    reasoning_tokens      INTEGER NOT NULL,
    cost_nanos            INTEGER NOT NULL,
    reserved_nanos        INTEGER NOT NULL,
    overrun_nanos         INTEGER NOT NULL,
    estimated             INTEGER NOT NULL,
    usage_missing         INTEGER NOT NULL,
    stream                INTEGER NOT NULL,
    status                TEXT NOT NULL,
    error                 TEXT,
    latency_ms            INTEGER NOT NULL,
    started_at_ms         INTEGER NOT NULL,
    finished_at_ms        INTEGER NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

-- A checkpoint's id is (rowid of its execution << 32) | sequence: one execution's
-- checkpoints are one contiguous range of the table's own b-tree, so saving one writes a
-- single b-tree (no secondary index) and listing them is a range scan.
CREATE TABLE checkpoints (
    id            INTEGER PRIMARY KEY,
    execution_id  TEXT NOT NULL REFERENCES workflow_executions (id),
    name          TEXT NOT NULL,
    sequence      INTEGER NOT NULL,
    parent_id     INTEGER,
    spent_nanos   INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    superseded    INTEGER NOT NULL DEFAULT 0,
    state         BLOB NOT NULL
);
