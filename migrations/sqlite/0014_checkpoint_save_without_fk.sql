-- Nothing to change on SQLite: PostgreSQL's 0014 drops the checkpoints' foreign key, which cost
-- a row lock per save there. Kept so both dialects share one numbered list.
SELECT 1;
