package wflo

import "context"

// The agent a call is made for travels in the context beside the execution, so a framework's
// agent loop names it once and every request below it is charged to that agent.

type agentKey struct{}

// WithAgent returns a context whose metered requests (Middleware, Transport) are charged to
// the agent called name: the engine keeps one scope per agent of an execution ("agent:" +
// name, created on first use, a child of the execution), limited by the execution's budget
// for that agent when it was started with one, so one agent cannot spend another's share. The
// execution is still the one WithExecution or WithScope put in the context; a request made
// with a WithScope step stays on that step (its budget applies, the agent's share does not).
// An empty name charges no agent.
func WithAgent(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, agentKey{}, name)
}

// AgentFrom returns the agent name the context carries ("" when none).
func AgentFrom(ctx context.Context) string {
	name, _ := ctx.Value(agentKey{}).(string)
	return name
}
