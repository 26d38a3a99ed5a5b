-- Nothing to change on PostgreSQL: SQLite's 0018 makes its partial index of the LangGraph
-- saver's names hold all that a saver's first load of a thread lists. PostgreSQL would read
-- the rows anyway (an index-only scan needs pages marked all-visible by VACUUM, which a
-- thread's recent records are not). Kept so both dialects share one numbered list.
SELECT 1;
