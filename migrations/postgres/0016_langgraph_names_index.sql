-- A LangGraph saver's first load of a thread in a new process reads that thread's records,
-- found by name (`langgraph/<thread>/…`, `langgraph-writes/<thread>/…`,
-- `langgraph-delete/<thread>`): a range of names in byte order (COLLATE "C", whatever the
-- database's collation). Partial, over the saver's names alone: other checkpoint saves do not
-- pay for it.
CREATE INDEX checkpoints_langgraph_names ON checkpoints (execution_id, (name COLLATE "C"))
    WHERE name COLLATE "C" >= 'langgraph-' AND name COLLATE "C" < 'langgraph0';
