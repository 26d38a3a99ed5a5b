-- wflo schema 2 (SQLite): shared budget scopes with leased reservations, rollback history,
-- compressed checkpoint states.

ALTER TABLE checkpoints ADD COLUMN state_encoding TEXT NOT NULL DEFAULT 'json';
ALTER TABLE checkpoints ADD COLUMN state_bytes INTEGER NOT NULL DEFAULT 0;
UPDATE checkpoints SET state_bytes = length(CAST(state AS BLOB));

CREATE TABLE checkpoint_rollbacks (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id    TEXT NOT NULL REFERENCES workflow_executions (id),
    checkpoint_id   INTEGER REFERENCES checkpoints (id) ON DELETE SET NULL,
    checkpoint_name TEXT NOT NULL,
    superseded      INTEGER NOT NULL,
    spent_nanos     INTEGER NOT NULL,
    at_ms           INTEGER NOT NULL
);

-- A shared scope as defined by users: its limit applies to each period (none, day, month).
CREATE TABLE budget_scope_defs (
    name          TEXT PRIMARY KEY,
    limit_nanos   INTEGER,
    period        TEXT NOT NULL DEFAULT 'none',
    updated_at_ms INTEGER NOT NULL
);

-- The figures of one period of a shared scope (key = name, or name@YYYY-MM-DD / name@YYYY-MM).
CREATE TABLE budget_scopes (
    key            TEXT PRIMARY KEY,
    name           TEXT NOT NULL REFERENCES budget_scope_defs (name),
    limit_nanos    INTEGER,
    spent_nanos    INTEGER NOT NULL DEFAULT 0,
    reserved_nanos INTEGER NOT NULL DEFAULT 0,
    overrun_nanos  INTEGER NOT NULL DEFAULT 0,
    refusing       INTEGER NOT NULL DEFAULT 0,
    updated_at_ms  INTEGER NOT NULL
);

-- One row per (reservation, scope): held budget with a lease.
CREATE TABLE budget_reservations (
    id             TEXT NOT NULL,
    scope_key      TEXT NOT NULL REFERENCES budget_scopes (key),
    amount_nanos   INTEGER NOT NULL,
    holder         TEXT NOT NULL,
    execution_id   TEXT,
    lease_until_ms INTEGER NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (id, scope_key)
);
CREATE INDEX budget_reservations_by_lease ON budget_reservations (scope_key, lease_until_ms);
