package wflo_test

// Execution limits (the original SDK's max_iterations and per_agent_budgets):
// ExecutionOptions.MaxCalls caps an execution's LLM calls with a *CallLimitError, and
// AgentBudgetsUSD gives each agent its own share, charged through RequestOptions.Agent (or a
// WithAgent context). The metered calls go through the real openai-go client to
// `wflo mock-llm`, so a refused call is seen never to reach the provider.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/openai/openai-go/v3"
	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func TestMaxCallsRefusesTheNextCallBeforeAnythingIsReservedOrSent(t *testing.T) {
	startMock(t)
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "capped", BudgetUSD: wflo.USD(1), MaxCalls: wflo.Calls(2)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := wflo.WithExecution(context.Background(), x)
	before := mockStats(t)["chat.completions"]
	for i := 0; i < 2; i++ {
		if _, err := client("").Chat.Completions.New(ctx, question); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	_, err = client("").Chat.Completions.New(ctx, question)
	var limit *wflo.CallLimitError
	if !errors.As(err, &limit) || !errors.Is(err, wflo.ErrCallLimit) || !wflo.IsRefusal(err) {
		t.Fatalf("want a *CallLimitError, got %T %v", err, err)
	}
	if limit.MaxCalls != 2 || limit.Execution != x.ID() {
		t.Fatalf("error fields: %+v", limit)
	}
	if after := mockStats(t)["chat.completions"]; after != before+2 {
		t.Fatalf("the mock served %d requests, want 2 (the refused one never sent)", after-before)
	}
	b, err := x.Breakdown()
	if err != nil {
		t.Fatal(err)
	}
	if b.ReservedNanos != 0 || b.RefusedCalls != 1 {
		t.Fatalf("breakdown: %+v", b)
	}
	status, err := x.End(fmt.Errorf("agent loop: %w", err))
	if err != nil || status != "failed" {
		t.Fatalf("end: %q %v", status, err)
	}
}

func TestMaxCallsCountsNoRefusalsAndSurvivesAResume(t *testing.T) {
	e, err := wflo.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "resumed", BudgetUSD: wflo.USD(1), MaxCalls: wflo.Calls(2)})
	if err != nil {
		t.Fatal(err)
	}
	small := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":50}`)
	huge := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":200000}`)
	reserve := func(x *wflo.Execution, body []byte) error {
		res, _, err := x.ReserveRequest("openai_chat", body, nil)
		if err == nil {
			_, err = res.Settle(wflo.Usage{Input: 10, Output: 5})
		}
		return err
	}
	if err := reserve(x, small); err != nil {
		t.Fatal(err)
	}
	// Refused by the budget: the cap keeps the call it would have used.
	if err := reserve(x, huge); !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a budget refusal, got %v", err)
	}
	if _, err := x.End(nil); err != nil {
		t.Fatal(err)
	}
	x.Close()

	again, err := e.ResumeExecution(x.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if err := reserve(again, small); err != nil {
		t.Fatalf("the second call: %v", err)
	}
	if err := reserve(again, small); !errors.Is(err, wflo.ErrCallLimit) {
		t.Fatalf("a resumed execution counts its calls: want CALL_LIMIT, got %v", err)
	}
	// A call without a request body is capped the same way.
	if _, err := again.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: 10, MaxOutputTokens: 10}); !errors.Is(err, wflo.ErrCallLimit) {
		t.Fatalf("Reserve: want CALL_LIMIT, got %v", err)
	}
	if _, err := e.StartExecution(wflo.ExecutionOptions{Name: "bad", MaxCalls: wflo.Calls(-1)}); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("a negative cap: %v", err)
	}
}

func TestAnAgentOverItsShareIsRefusedWhileAnotherGoesOn(t *testing.T) {
	startMock(t)
	e := memoryEngine(t)
	// gpt-4o-mini's output is $0.60 per million tokens: 4000 tokens' worst case is $0.0024.
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "agents", BudgetUSD: wflo.USD(1),
		AgentBudgetsUSD: map[string]float64{"researcher": 0.001, "critic": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := wflo.WithExecution(context.Background(), x)
	big := question
	big.MaxTokens = openai.Int(4000)
	before := mockStats(t)["chat.completions"]

	_, err = client("").Chat.Completions.New(wflo.WithAgent(ctx, "researcher"), big)
	var be *wflo.BudgetExceededError
	if !errors.As(err, &be) || be.Scope != "agent:researcher" || be.LimitNanos != 1_000_000 {
		t.Fatalf("want the researcher's share refused, got %T %v", err, err)
	}
	if mockStats(t)["chat.completions"] != before {
		t.Fatal("the refused request reached the mock")
	}
	// The writer has no share of its own: only the execution's budget limits it.
	for i := 0; i < 2; i++ {
		if _, err := client("").Chat.Completions.New(wflo.WithAgent(ctx, "writer"), big); err != nil {
			t.Fatalf("writer call %d: %v", i+1, err)
		}
	}
	// RequestOptions.Agent says the same without a context.
	res, _, err := x.ReserveRequest("openai_chat",
		[]byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":100}`),
		&wflo.RequestOptions{Agent: "researcher"})
	if err != nil {
		t.Fatalf("a call within the researcher's share: %v", err)
	}
	if _, err := res.Settle(wflo.Usage{Input: 10, Output: 50}); err != nil {
		t.Fatal(err)
	}
	calls, err := x.Calls()
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, c := range calls {
		got = append(got, c.Step+"="+c.Status)
	}
	if fmt.Sprint(got) != "[agent:researcher=refused agent:writer=ok agent:writer=ok agent:researcher=ok]" {
		t.Fatalf("calls: %v", got)
	}
	if b, _ := x.Breakdown(); b.ReservedNanos != 0 {
		t.Fatalf("held after the calls: %d", b.ReservedNanos)
	}
}

func TestTheExecutionsBudgetStillLimitsAnAgentWithALargerShare(t *testing.T) {
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "outer", BudgetUSD: wflo.USD(0.0005),
		AgentBudgetsUSD: map[string]float64{"researcher": 10}})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	_, _, err = x.ReserveRequest("openai_chat",
		[]byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"max_tokens":4000}`),
		&wflo.RequestOptions{Agent: "researcher"})
	var be *wflo.BudgetExceededError
	if !errors.As(err, &be) || be.Scope == "agent:researcher" {
		t.Fatalf("want the execution's budget to refuse, got %v", err)
	}
}
