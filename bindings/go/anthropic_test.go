package wflo_test

// The official anthropic-sdk-go client metered by the same Middleware as openai-go, against
// `wflo mock-llm`: the engine reads each Messages request ("anthropic") before it is sent and
// settles its usage after — the ledger equals the provider's usage priced by the engine, a
// refusal sends nothing (with the SDK's own retries on), a stream is settled once at its end,
// and a stream cut before its usage is estimated.

import (
	"context"
	"errors"
	"testing"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
	wflo "github.com/wflo-dev/wflo/bindings/go"
)

const claudeModel = "claude-sonnet-4-6"

// claude is a metered anthropic-sdk-go client of the mock; directives shape its answers.
func claude(directives string, opts ...option.RequestOption) *anthropic.Client {
	base := mockURL + "/"
	if directives != "" {
		base = mockURL + "/mock/" + directives + "/"
	}
	all := append([]option.RequestOption{option.WithBaseURL(base), option.WithAPIKey("mock"),
		option.WithMiddleware(wflo.Middleware())}, opts...)
	c := anthropic.NewClient(all...)
	return &c
}

func claudeQuestion(maxTokens int64) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     claudeModel,
		MaxTokens: maxTokens,
		System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(
			"Tell me, at some length, how a budget for language model calls should be enforced."))},
	}
}

// usageOf is an Anthropic usage (input excludes cache reads and writes) in wflo's fields.
func usageOf(u anthropic.Usage) wflo.Usage {
	return wflo.Usage{Input: uint64(u.InputTokens), Output: uint64(u.OutputTokens),
		CacheRead:    uint64(u.CacheReadInputTokens),
		CacheWrite5m: uint64(u.CacheCreation.Ephemeral5mInputTokens),
		CacheWrite1h: uint64(u.CacheCreation.Ephemeral1hInputTokens)}
}

func TestAnthropicMessagesCostEqualsTheLedger(t *testing.T) {
	e, x, ctx := execution(t, 1)
	msg, err := claude("cached=6,cache_write=5,cache_write_1h=4").Messages.New(ctx, claudeQuestion(200))
	if err != nil {
		t.Fatal(err)
	}
	usage := usageOf(msg.Usage)
	if usage.CacheRead != 6 || usage.CacheWrite5m != 5 || usage.CacheWrite1h != 4 || usage.Input == 0 || usage.Output == 0 {
		t.Fatalf("the mock's usage: %+v", usage)
	}
	want, err := e.Cost(claudeModel, usage)
	if err != nil {
		t.Fatal(err)
	}
	calls := balanced(t, x)
	if len(calls) != 1 || calls[0].Provider != "anthropic" || calls[0].Status != "ok" || calls[0].Stream || calls[0].Estimated {
		t.Fatalf("calls: %+v", calls)
	}
	if calls[0].Usage != usage || calls[0].CostNanos != want {
		t.Fatalf("ledger %d for %+v, want %d for %+v", calls[0].CostNanos, calls[0].Usage, want, usage)
	}
	// The reservation covered the request's own max_tokens, not the model's maximum.
	if worst, _ := e.Cost(claudeModel, wflo.Usage{Input: usage.Input + 6 + 5 + 4, Output: 200}); calls[0].ReservedNanos > 2*worst {
		t.Fatalf("reserved %d for a 200-token call (its worst case is about %d)", calls[0].ReservedNanos, worst)
	}
}

func TestAnthropicRefusalSendsNothingAndIsNotRetried(t *testing.T) {
	_, x, ctx := execution(t, 0.0001)
	before := mockStats(t)["messages"]
	// The SDK's default retries stay on: a refusal must not be retried like a lost connection.
	_, err := claude("").Messages.New(ctx, claudeQuestion(4000))
	var refusal *wflo.BudgetExceededError
	if !errors.Is(err, wflo.ErrBudgetExceeded) || !errors.As(err, &refusal) || refusal.RequestedNanos == 0 {
		t.Fatalf("want a *wflo.BudgetExceededError, got %T %v", err, err)
	}
	stream := claude("").Messages.NewStreaming(ctx, claudeQuestion(4000))
	if stream.Next() || !errors.Is(stream.Err(), wflo.ErrBudgetExceeded) {
		t.Fatalf("want the stream refused, got %v", stream.Err())
	}
	_ = stream.Close()
	if after := mockStats(t)["messages"]; after != before {
		t.Fatalf("a refused request reached the mock: %d -> %d", before, after)
	}
	b, _ := x.Breakdown()
	if b.RefusedCalls != 2 || b.TotalNanos != 0 || b.ReservedNanos != 0 {
		t.Fatalf("want two refusals (one per call, none per SDK retry) and nothing spent: %+v", b)
	}
}

func TestOpenAIRefusalIsNotRetriedByTheSDK(t *testing.T) {
	_, x, ctx := execution(t, 0.0001)
	big := question
	big.MaxTokens = openai.Int(4000)
	// clientWith turns the SDK's retries off; put its default (2) back.
	_, err := clientWith("", openaiopt.WithMaxRetries(2)).Chat.Completions.New(ctx, big)
	if !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a budget refusal, got %v", err)
	}
	if b, _ := x.Breakdown(); b.RefusedCalls != 1 {
		t.Fatalf("the SDK retried the refusal: %d refusals", b.RefusedCalls)
	}
}

func TestAnthropicStreamIsSettledOnceAtItsEnd(t *testing.T) {
	e, x, ctx := execution(t, 1)
	stream := claude("cached=3,reply=30").Messages.NewStreaming(ctx, claudeQuestion(200))
	var msg anthropic.Message
	events := 0
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
		if events++; events == 1 {
			// Under way: the worst case is held, nothing is booked yet.
			b, _ := x.Breakdown()
			if calls, _ := x.Calls(); len(calls) != 0 || b.ReservedNanos == 0 {
				t.Fatalf("settled before the end: %d calls, %d reserved", len(calls), b.ReservedNanos)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	_ = stream.Close()
	_ = stream.Close()
	usage := usageOf(msg.Usage)
	want, _ := e.Cost(claudeModel, usage)
	calls := balanced(t, x)
	if len(calls) != 1 || !calls[0].Stream || calls[0].Status != "ok" || calls[0].Estimated || calls[0].UsageMissing {
		t.Fatalf("want one settled stream: %+v", calls)
	}
	if usage.Output < 25 || usage.CacheRead != 3 || calls[0].Usage != usage || calls[0].CostNanos != want {
		t.Fatalf("ledger %d for %+v, want %d for the streamed %+v", calls[0].CostNanos, calls[0].Usage, want, usage)
	}
}

func TestAnthropicStreamCutBeforeItsUsageIsEstimated(t *testing.T) {
	e, x, ctx := execution(t, 1)
	stream := claude("cut=usage,reply=30").Messages.NewStreaming(ctx, claudeQuestion(200))
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err) // the stream ended cleanly, only without its final usage
	}
	_ = stream.Close()
	calls := balanced(t, x)
	if len(calls) != 1 || calls[0].Status != "ok" || !calls[0].Estimated || !calls[0].UsageMissing ||
		calls[0].Usage.Input == 0 || calls[0].Usage.Output < 25 || calls[0].CostNanos == 0 {
		t.Fatalf("want an estimated, non-zero record: %+v", calls)
	}
	if want, _ := e.Cost(claudeModel, calls[0].Usage); calls[0].CostNanos != want {
		t.Fatalf("cost %d, want %d for %+v", calls[0].CostNanos, want, calls[0].Usage)
	}
}

func TestAnthropicProviderErrorsStayTheSDKsAndRelease(t *testing.T) {
	_, x, ctx := execution(t, 1)
	_, err := claude("status=500", option.WithMaxRetries(0)).Messages.New(ctx, claudeQuestion(200))
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || wflo.IsRefusal(err) {
		t.Fatalf("want the provider's 500 as an *anthropic.Error, got %T %v", err, err)
	}
	calls := balanced(t, x)
	if len(calls) != 1 || calls[0].Status != "error" || calls[0].CostNanos != 0 {
		t.Fatalf("calls: %+v", calls)
	}
	// Outside any execution the client works as before, unmetered.
	if _, err := claude("").Messages.New(context.Background(), claudeQuestion(50)); err != nil {
		t.Fatal(err)
	}
	if calls, _ := x.Calls(); len(calls) != 1 {
		t.Fatalf("an unmetered call was attributed: %d", len(calls))
	}
}

func TestAnthropicSDKRetriesAreEachReserved(t *testing.T) {
	_, x, ctx := execution(t, 1)
	// The first attempt fails (529, retry-after: 0), the SDK's retry succeeds: two records.
	msg, err := claude("fail=1,status=529,key=go-anthropic-retry", option.WithMaxRetries(2)).Messages.New(ctx, claudeQuestion(100))
	if err != nil {
		t.Fatal(err)
	}
	calls := balanced(t, x)
	if len(calls) != 2 || calls[0].Status != "error" || calls[0].CostNanos != 0 || calls[1].Status != "ok" ||
		calls[1].Usage.Output != uint64(msg.Usage.OutputTokens) {
		t.Fatalf("calls: %+v", calls)
	}
}

func TestWithAgentChargesTheAgentsScope(t *testing.T) {
	e, x, ctx := execution(t, 1)
	msg, err := claude("").Messages.New(wflo.WithAgent(ctx, "researcher"), claudeQuestion(100))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client("").Chat.Completions.New(wflo.WithAgent(ctx, "writer"), question); err != nil {
		t.Fatal(err)
	}
	if _, err := claude("").Messages.New(ctx, claudeQuestion(100)); err != nil { // no agent
		t.Fatal(err)
	}
	calls := balanced(t, x)
	if len(calls) != 3 || calls[0].Step != "agent:researcher" || calls[1].Step != "agent:writer" || calls[2].Step != "" {
		t.Fatalf("steps: %+v", calls)
	}
	want, _ := e.Cost(claudeModel, usageOf(msg.Usage))
	b, _ := x.Breakdown()
	found := false
	for _, s := range b.ByStep {
		if s.Step == "agent:researcher" {
			found = s.Calls == 1 && s.CostNanos == want
		}
	}
	if !found {
		t.Fatalf("the researcher's scope is not one call of %d: %+v", want, b.ByStep)
	}
	if wflo.AgentFrom(wflo.WithAgent(ctx, "researcher")) != "researcher" || wflo.AgentFrom(ctx) != "" {
		t.Fatal("AgentFrom")
	}
}

func TestAnAgentThatExhaustedItsShareIsRefusedWhileAnotherGoesOn(t *testing.T) {
	startMock(t)
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: t.Name(), BudgetUSD: wflo.USD(1),
		AgentBudgetsUSD: map[string]float64{"researcher": 0.002}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	ctx := wflo.WithExecution(context.Background(), x)
	researcher, writer := wflo.WithAgent(ctx, "researcher"), wflo.WithAgent(ctx, "writer")
	// A 100-token call holds about $0.0017 and spends about $0.0005: the second one could
	// take the researcher past its $0.002.
	if _, err := claude("").Messages.New(researcher, claudeQuestion(100)); err != nil {
		t.Fatal(err)
	}
	before := mockStats(t)["messages"]
	_, err = claude("").Messages.New(researcher, claudeQuestion(100))
	var refusal *wflo.BudgetExceededError
	if !errors.As(err, &refusal) || refusal.Scope != "agent:researcher" {
		t.Fatalf("want the researcher's share refused, got %T %v", err, err)
	}
	if after := mockStats(t)["messages"]; after != before {
		t.Fatalf("the refused request reached the mock: %d -> %d", before, after)
	}
	for range 3 {
		if _, err := claude("").Messages.New(writer, claudeQuestion(100)); err != nil {
			t.Fatalf("the writer was refused: %v", err)
		}
	}
	calls := balanced(t, x)
	if len(calls) != 5 || calls[0].Step != "agent:researcher" || calls[1].Step != "agent:researcher" ||
		calls[1].Status != "refused" || calls[1].CostNanos != 0 || calls[4].Step != "agent:writer" || calls[4].Status != "ok" {
		t.Fatalf("calls: %+v", calls)
	}
}
