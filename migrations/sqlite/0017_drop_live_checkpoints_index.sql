-- PostgreSQL drops the index of live checkpoints that its 0013 made. SQLite never had it (its
-- save reads the parent by a range of ids): nothing to change, and this file keeps both
-- dialects' migrations numbered alike.
SELECT 1;
