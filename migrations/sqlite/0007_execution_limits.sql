-- Limits an execution was started with, kept so a resumed execution enforces them as before:
-- the most LLM calls it may make (the original SDK's max_iterations), and each agent's own
-- budget in nano-USD as a JSON object ({"researcher": 500000000}).
ALTER TABLE workflow_executions ADD COLUMN max_calls INTEGER;
ALTER TABLE workflow_executions ADD COLUMN agent_budgets_json TEXT;
