-- Nothing to change on PostgreSQL: SQLite's 0015 rebuilds the checkpoints table with the state
-- last, so that listing checkpoints does not walk each big state's overflow pages. PostgreSQL
-- keeps a big bytea out of line (TOAST) and reads it only when a query asks for it. Kept so
-- both dialects share one numbered list.
SELECT 1;
