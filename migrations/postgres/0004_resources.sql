-- wflo schema 4 (PostgreSQL): named resources with a limit on concurrent holders (locks and
-- semaphores across processes). A hold lives under a lease, so a crashed holder's slot frees
-- itself; the statistics row is also what acquirers serialise on.

CREATE TABLE resource_holds (
    hold_id        TEXT PRIMARY KEY,
    resource       TEXT NOT NULL,
    holder         TEXT NOT NULL,
    workflow_id    TEXT NOT NULL,
    acquired_at_ms BIGINT NOT NULL,
    lease_until_ms BIGINT NOT NULL
);
CREATE INDEX resource_holds_by_resource ON resource_holds (resource, lease_until_ms);

CREATE TABLE resource_stats (
    resource      TEXT PRIMARY KEY,
    acquisitions  BIGINT NOT NULL DEFAULT 0,
    contentions   BIGINT NOT NULL DEFAULT 0,
    timeouts      BIGINT NOT NULL DEFAULT 0,
    total_wait_ms BIGINT NOT NULL DEFAULT 0,
    max_wait_ms   BIGINT NOT NULL DEFAULT 0
);
