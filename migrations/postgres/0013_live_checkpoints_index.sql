-- A checkpoint save reads its parent, the execution's latest live checkpoint, inside its INSERT
-- (one statement, no function). Over this index that read is one step back from the end of the
-- execution's live checkpoints, whatever plan the server caches for the statement: over the
-- unique (execution_id, sequence) alone, a plan cached while the table was small scanned every
-- checkpoint of the execution (a save grew from ~0.1 ms to over 1 ms at 1,200 checkpoints).
CREATE INDEX checkpoints_live ON checkpoints (execution_id, sequence) WHERE NOT superseded;
