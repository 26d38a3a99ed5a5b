-- PostgreSQL's checkpoint save became one function (one round trip). SQLite saves in process
-- under its write lock, where a round trip costs nothing: its schema is unchanged, and this
-- file keeps both dialects' migrations numbered alike.
SELECT 1;
