-- Binary checkpoint states: a state is JSON text (state_type NULL, as every state saved before)
-- or bytes in the caller's format, stored as they are and named by their content type. The
-- one-statement save (0011) takes the content type too.
ALTER TABLE checkpoints ADD COLUMN state_type TEXT;

DROP FUNCTION wflo_save_checkpoint(TEXT, TEXT, BIGINT, BIGINT, BYTEA, TEXT, BIGINT);

CREATE FUNCTION wflo_save_checkpoint(
    p_execution TEXT, p_name TEXT, p_spent BIGINT, p_created BIGINT,
    p_state BYTEA, p_encoding TEXT, p_state_bytes BIGINT, p_state_type TEXT)
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
                             superseded, state, state_encoding, state_bytes, state_type)
         VALUES (p_execution, p_name, v_seq, v_parent, p_spent, p_created,
                 FALSE, p_state, p_encoding, p_state_bytes, p_state_type)
      RETURNING checkpoints.id INTO v_id;
    RETURN QUERY SELECT v_id, v_seq, v_parent;
END $$;
