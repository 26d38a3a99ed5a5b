-- wflo schema 1 (PostgreSQL): executions, their calls and checkpoints.
-- Frozen: schema changes go into new numbered files.

CREATE TABLE workflow_executions (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    budget_nanos   BIGINT,
    spent_nanos    BIGINT NOT NULL DEFAULT 0,
    overrun_nanos  BIGINT NOT NULL DEFAULT 0,
    calls          BIGINT NOT NULL DEFAULT 0,
    created_at_ms  BIGINT NOT NULL,
    updated_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT
);
CREATE INDEX workflow_executions_by_created ON workflow_executions (created_at_ms);

CREATE TABLE llm_calls (
    execution_id          TEXT NOT NULL REFERENCES workflow_executions (id),
    seq                   BIGINT NOT NULL,
    step                  TEXT NOT NULL,
    provider              TEXT NOT NULL,
    requested_model       TEXT NOT NULL,
    model                 TEXT,
    input_tokens          BIGINT NOT NULL,
    output_tokens         BIGINT NOT NULL,
    cache_read_tokens     BIGINT NOT NULL,
    cache_write_5m_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    reasoning_tokens      BIGINT NOT NULL,
    cost_nanos            BIGINT NOT NULL,
    reserved_nanos        BIGINT NOT NULL,
    overrun_nanos         BIGINT NOT NULL,
    estimated             BOOLEAN NOT NULL,
    usage_missing         BOOLEAN NOT NULL,
    stream                BOOLEAN NOT NULL,
    status                TEXT NOT NULL,
    error                 TEXT,
    latency_ms            BIGINT NOT NULL,
    started_at_ms         BIGINT NOT NULL,
    finished_at_ms        BIGINT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE checkpoints (
    id            BIGSERIAL PRIMARY KEY,
    execution_id  TEXT NOT NULL REFERENCES workflow_executions (id),
    name          TEXT NOT NULL,
    sequence      BIGINT NOT NULL,
    parent_id     BIGINT,
    spent_nanos   BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    superseded    BOOLEAN NOT NULL DEFAULT FALSE,
    state         BYTEA NOT NULL,
    UNIQUE (execution_id, sequence)
);
