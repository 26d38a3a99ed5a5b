-- A checkpoint saved in one statement (one round trip). In a plpgsql function each statement
-- takes a fresh snapshot, so the sequence is read after the execution's row lock is held: two
-- processes saving into one execution number their checkpoints one after the other. A single
-- SQL statement could not, as its snapshot is taken before it waits for the lock.
-- An execution that does not exist fails the insert's foreign key, as before.
CREATE FUNCTION wflo_save_checkpoint(
    p_execution TEXT, p_name TEXT, p_spent BIGINT, p_created BIGINT,
    p_state BYTEA, p_encoding TEXT, p_state_bytes BIGINT)
RETURNS TABLE (cp_id BIGINT, cp_sequence BIGINT, cp_parent BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_seq BIGINT; v_parent BIGINT; v_id BIGINT;
BEGIN
    PERFORM 1 FROM workflow_executions e WHERE e.id = p_execution FOR UPDATE;
    SELECT COALESCE(MAX(c.sequence), 0) + 1 INTO v_seq
      FROM checkpoints c WHERE c.execution_id = p_execution;
    SELECT c.id INTO v_parent
      FROM checkpoints c WHERE c.execution_id = p_execution AND NOT c.superseded
     ORDER BY c.sequence DESC LIMIT 1;
    INSERT INTO checkpoints (execution_id, name, sequence, parent_id, spent_nanos, created_at_ms,
                             superseded, state, state_encoding, state_bytes)
         VALUES (p_execution, p_name, v_seq, v_parent, p_spent, p_created,
                 FALSE, p_state, p_encoding, p_state_bytes)
      RETURNING checkpoints.id INTO v_id;
    RETURN QUERY SELECT v_id, v_seq, v_parent;
END $$;
