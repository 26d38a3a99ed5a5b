-- wflo schema 9 (PostgreSQL): indexes for stores with a long history. An execution's rollbacks
-- (`wflo show`, the report, serve) are found through its id instead of a scan of every rollback
-- in the store; a pruned checkpoint's rollbacks (checkpoint_id's ON DELETE SET NULL) through the
-- checkpoint instead of one scan per deleted checkpoint.
CREATE INDEX checkpoint_rollbacks_by_execution ON checkpoint_rollbacks (execution_id, id);
CREATE INDEX checkpoint_rollbacks_by_checkpoint ON checkpoint_rollbacks (checkpoint_id);
