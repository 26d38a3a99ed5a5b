package wflo

import (
	"context"
	"encoding/json"
	"fmt"
)

// Track describes the one LLM call a function passed to TrackLLMCall makes.
type Track struct {
	// Model the function calls.
	Model string
	// MaxTokens of output the call may produce; 0: the model's maximum. Used only when the
	// tracker reserves up front (Metered false).
	MaxTokens uint64
	// Provider, when the model name alone does not say.
	Provider string
	// Input is the prompt, for an up-front reservation: a string (the user's message), the
	// messages, or a value with "messages".
	Input any
	// Format of the function's result, read for its usage ("" or "auto": by its shape).
	Format string
	// Metered says the function sends its call through a client built with Middleware or
	// Transport, with the context TrackLLMCall gives it: that client budgets the call from its
	// actual request (its messages, its max_tokens) and TrackLLMCall reserves nothing itself.
	// Go cannot look inside the function, so this is the caller's word: set it only when it
	// holds; a call through any other client would go out unbudgeted.
	Metered bool
}

// trackedKey marks a context whose call TrackLLMCall reserved already: Middleware and
// Transport send its requests without metering them a second time.
type trackedKey struct{}

func tracked(ctx context.Context) bool { return ctx.Value(trackedKey{}) != nil }

// TrackLLMCall runs fn, a function making one LLM call, inside the budget of the execution ctx
// carries (WithExecution, WithScope; WithAgent names the agent), before anything is sent:
//
//   - with t.Metered, fn's call goes through Middleware or Transport with the context fn is
//     given, which budgets it from its actual request; TrackLLMCall only passes the context on.
//   - otherwise TrackLLMCall cannot see the request and reserves up front: t.Input's prompt
//     plus t.MaxTokens of output (0: the model's maximum); fn's result settles it by the
//     engine's rule (a []byte is a response body, anything else is encoded as JSON; a string
//     is the generated text; without usage the output is estimated from its text, flagged).
//     A refusal says how the call was sized and how to make it precise. fn's error releases
//     the reservation.
//
// A call that could overspend returns a *BudgetExceededError and fn does not run. Without an
// execution in ctx, fn runs as it is.
func TrackLLMCall[T any](ctx context.Context, t Track, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	x, scope, ok := ExecutionFrom(ctx)
	if !ok || t.Metered {
		return fn(ctx)
	}
	if t.Model == "" {
		return zero, invalid("invalid argument: TrackLLMCall needs Track.Model, the model the function calls")
	}
	asked := map[string]any{"model": t.Model, "input": t.Input}
	if t.MaxTokens > 0 {
		asked["max_tokens"] = t.MaxTokens
	}
	if t.Provider != "" {
		asked["ls_provider"] = t.Provider
	}
	body, err := json.Marshal(asked)
	if err != nil {
		return zero, invalid("invalid argument: Track.Input does not marshal to JSON: %v", err)
	}
	res, _, err := reserveRequest(x, scope, "langchain", body, &RequestOptions{Agent: AgentFrom(ctx), Upfront: true}, nil)
	if err != nil {
		return zero, err
	}
	defer res.Close() // releases it if neither settled nor released below
	result, err := fn(context.WithValue(ctx, trackedKey{}, true))
	if err != nil {
		_ = res.Release("error", err.Error())
		return result, err
	}
	format := t.Format
	if format == "" {
		format = "auto"
	}
	// A []byte result is a response body; anything else is encoded (a string as a JSON
	// string, which the engine reads as the generated text). A value JSON cannot encode is
	// settled as its printed text: the call happened, so it is booked, never released.
	raw, isBody := any(result).([]byte)
	if !isBody {
		if raw, err = json.Marshal(result); err != nil {
			raw, _ = json.Marshal(fmt.Sprint(result))
		}
	}
	_, err = res.SettleResult(format, raw, "ok")
	return result, err
}
