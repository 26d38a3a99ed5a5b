-- Binary checkpoint states: a state is JSON text (state_type NULL, as every state saved before)
-- or bytes in the caller's format, stored as they are and named by their content type.
ALTER TABLE checkpoints ADD COLUMN state_type TEXT;
