-- The index of live checkpoints (0013) is dropped: every save inserted into it (~4 µs of a
-- ~25 µs insert on the server, measured with the save's statement in a loop) to serve one read
-- that a save makes only right after a rollback. A save reads the latest checkpoint by sequence
-- over the unique (execution_id, sequence); only when a rollback has superseded that one does it
-- look further back for the latest live checkpoint, over the same unique index, past the rows
-- the rollback superseded — the rows the rollback itself has just walked. SQLite's save has
-- always read it so.
DROP INDEX IF EXISTS checkpoints_live;
