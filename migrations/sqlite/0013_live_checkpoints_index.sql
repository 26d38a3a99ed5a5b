-- PostgreSQL's checkpoint save reads the parent over a new index of live checkpoints. SQLite's
-- reads it by a range of ids (an execution's checkpoints are one contiguous range of the table):
-- its schema is unchanged, and this file keeps both dialects' migrations numbered alike.
SELECT 1;
