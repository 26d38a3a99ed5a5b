-- wflo schema 6 (PostgreSQL): circuit breakers, the order of a resource's holders and an
-- execution's approval threshold (at the end). A shared breaker's machine (state and counts,
-- as JSON) lives here so every process on the store steps one breaker (its row locked while a
-- process steps it); every breaker's changes of state — shared or one process's — are recorded
-- for `wflo breakers`, `show` and `serve`.

CREATE TABLE breakers (
    name          TEXT PRIMARY KEY,
    state_json    TEXT NOT NULL,
    config_json   TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    updated_by    TEXT NOT NULL
);

CREATE TABLE breaker_transitions (
    id         BIGSERIAL PRIMARY KEY,
    breaker    TEXT NOT NULL,
    shared     BOOLEAN NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    holder     TEXT NOT NULL,
    at_ms      BIGINT NOT NULL
);
CREATE INDEX breaker_transitions_by_breaker ON breaker_transitions (breaker, id);
CREATE INDEX breaker_transitions_by_time ON breaker_transitions (at_ms);

-- A resource's holders are listed in the order they acquired it, also within one millisecond
-- (SQLite has its rowid for that).
ALTER TABLE resource_holds ADD COLUMN acquired_seq BIGSERIAL;

-- An execution's approval threshold (calls whose worst case passes it wait for a person), so
-- a resumed execution gates its calls as it did before.
ALTER TABLE workflow_executions ADD COLUMN approval_above_nanos BIGINT;
