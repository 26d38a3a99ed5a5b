-- The partial index of the LangGraph saver's names (0016) also holds whether each checkpoint is
-- superseded: with the row's id (the index's own) and its sequence (the id's low bits), that is
-- all a saver's first load of a thread lists, so the list is read from the index alone instead
-- of seeking each record's row (a new saver's first load of a thread of 45 records took 215 µs,
-- most of it those seeks). A rollback that supersedes a saver's records updates their entries.
DROP INDEX IF EXISTS checkpoints_langgraph_names;
CREATE INDEX checkpoints_langgraph_names ON checkpoints (execution_id, name, superseded)
    WHERE name >= 'langgraph-' AND name < 'langgraph0';
