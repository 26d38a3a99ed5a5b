-- wflo schema 3 (SQLite): which attempt of a retried call each call record is, and why it was
-- retried (the retry decision's reason). Existing calls were first attempts.

ALTER TABLE llm_calls ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE llm_calls ADD COLUMN retry_reason TEXT;
