-- wflo schema 2 (PostgreSQL): shared budget scopes with leased reservations, rollback history,
-- compressed checkpoint states.

ALTER TABLE checkpoints ADD COLUMN state_encoding TEXT NOT NULL DEFAULT 'json';
ALTER TABLE checkpoints ADD COLUMN state_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE checkpoints SET state_bytes = octet_length(state);

CREATE TABLE checkpoint_rollbacks (
    id              BIGSERIAL PRIMARY KEY,
    execution_id    TEXT NOT NULL REFERENCES workflow_executions (id),
    checkpoint_id   BIGINT REFERENCES checkpoints (id) ON DELETE SET NULL,
    checkpoint_name TEXT NOT NULL,
    superseded      BIGINT NOT NULL,
    spent_nanos     BIGINT NOT NULL,
    at_ms           BIGINT NOT NULL
);

-- A shared scope as defined by users: its limit applies to each period (none, day, month).
CREATE TABLE budget_scope_defs (
    name          TEXT PRIMARY KEY,
    limit_nanos   BIGINT,
    period        TEXT NOT NULL DEFAULT 'none',
    updated_at_ms BIGINT NOT NULL
);

-- The figures of one period of a shared scope (key = name, or name@YYYY-MM-DD / name@YYYY-MM).
CREATE TABLE budget_scopes (
    key            TEXT PRIMARY KEY,
    name           TEXT NOT NULL REFERENCES budget_scope_defs (name),
    limit_nanos    BIGINT,
    spent_nanos    BIGINT NOT NULL DEFAULT 0,
    reserved_nanos BIGINT NOT NULL DEFAULT 0,
    overrun_nanos  BIGINT NOT NULL DEFAULT 0,
    refusing       BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at_ms  BIGINT NOT NULL
);

-- One row per (reservation, scope): held budget with a lease.
CREATE TABLE budget_reservations (
    id             TEXT NOT NULL,
    scope_key      TEXT NOT NULL REFERENCES budget_scopes (key),
    amount_nanos   BIGINT NOT NULL,
    holder         TEXT NOT NULL,
    execution_id   TEXT,
    lease_until_ms BIGINT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (id, scope_key)
);
CREATE INDEX budget_reservations_by_lease ON budget_reservations (scope_key, lease_until_ms);
