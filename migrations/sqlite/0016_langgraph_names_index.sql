-- A LangGraph saver's first load of a thread in a new process reads that thread's records,
-- found by name (`langgraph/<thread>/…`, `langgraph-writes/<thread>/…`,
-- `langgraph-delete/<thread>`). Without an index every checkpoint name of the execution was
-- compared (~0.25 µs each: 2.9 ms for a thread among 10,000 records). Partial, over the
-- saver's names alone: other checkpoint saves do not pay for it.
CREATE INDEX checkpoints_langgraph_names ON checkpoints (execution_id, name)
    WHERE name >= 'langgraph-' AND name < 'langgraph0';
