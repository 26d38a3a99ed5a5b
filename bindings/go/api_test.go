package wflo_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"sync"
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func TestTypedErrorsWorkWithErrorsIsAndAs(t *testing.T) {
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "typed", BudgetUSD: wflo.USD(0.001)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	_, err = x.Reserve(wflo.CallRequest{Model: "gpt-4o", InputTokens: 1000, MaxOutputTokens: 4000})
	if !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want ErrBudgetExceeded, got %v", err)
	}
	var be *wflo.BudgetExceededError
	if !errors.As(err, &be) || be.LimitNanos != 1_000_000 || be.RequestedNanos != 42_500_000 || be.Scope != x.ID() {
		t.Fatalf("budget error fields: %+v", be)
	}
	if be.LimitUSD() != 0.001 || be.SpentUSD() != 0 {
		t.Fatalf("USD views: %v %v", be.LimitUSD(), be.SpentUSD())
	}
	_, err = e.Cost("gpt-4o-mimi", wflo.Usage{Input: 1})
	var um *wflo.UnknownModelError
	if !errors.Is(err, wflo.ErrUnknownModel) || !errors.As(err, &um) || um.Suggestions[0] != "gpt-4o-mini" {
		t.Fatalf("unknown model: %v %+v", err, um)
	}
	if _, err := e.StartExecution(wflo.ExecutionOptions{BudgetUSD: wflo.USD(-1)}); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("negative budget: %v", err)
	}
	if _, err := e.StartExecution(wflo.ExecutionOptions{BudgetUSD: wflo.USD(math.NaN())}); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("NaN budget: %v", err)
	}
	if _, err := x.Checkpoint("bad", make(chan int)); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("unmarshalable state: %v", err)
	}
	if _, err := x.RollbackToCheckpoint("never"); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("rollback to nothing: %v", err)
	}
	if _, err := x.RecordCall("gpt-4o", "openai_chat", []byte(`{"usage":{"prompt_tokens":"x"}}`)); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("malformed usage: %v", err)
	}
	if _, err := e.ResumeExecution("exec-ffffffffffff"); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("resume unknown: %v", err)
	}
	b, err := x.Breakdown()
	if err != nil || b.RefusedCalls != 1 || b.Calls != 0 {
		t.Fatalf("nothing recorded beyond the refusal: %+v %v", b, err)
	}
}

func TestQuickTourFlowAndResumeOnSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "go.db")
	e, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "tour", BudgetUSD: wflo.USD(0.01)})
	if err != nil {
		t.Fatal(err)
	}
	count, err := e.CountChatTokens("gpt-4o-mini", []map[string]string{{"role": "user", "content": "Hello"}})
	if err != nil || count.Tokens != 8 || count.Estimated {
		t.Fatalf("count: %+v %v", count, err)
	}
	step, _ := x.Scope("search", nil)
	r, err := step.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: count.Tokens, MaxOutputTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.SettleJSON("openai_chat", []byte(`{"usage":{"prompt_tokens":8,"completion_tokens":20}}`))
	if err != nil || rec.CostNanos != 13_200 || rec.Seq != 1 {
		t.Fatalf("settle: %+v %v", rec, err)
	}
	if calls, _ := x.Calls(); calls[0].Step != "search" || calls[0].Status != "ok" {
		t.Fatalf("record: %+v", calls)
	}
	if _, err := r.Settle(wflo.Usage{Input: 1}); !errors.Is(err, wflo.ErrConflict) {
		t.Fatalf("settle twice: %v", err)
	}
	r.Close()
	r.Close()
	if _, err := x.Checkpoint("searched", map[string]any{"papers": []string{"a", "b"}}); err != nil {
		t.Fatal(err)
	}
	id := x.ID()
	x.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if _, err := e.StartExecution(wflo.ExecutionOptions{}); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	e2, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	again, err := e2.ResumeExecution(id)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	state, err := again.LatestCheckpoint()
	if err != nil || string(state) != `{"papers":["a","b"]}` {
		t.Fatalf("latest: %s %v", state, err)
	}
	b, _ := again.Breakdown()
	if b.TotalNanos != 13_200 || b.Calls != 1 {
		t.Fatalf("resumed spend: %+v", b)
	}
}

func TestTheExecutionTravelsInTheContext(t *testing.T) {
	e := memoryEngine(t)
	x, _ := e.StartExecution(wflo.ExecutionOptions{Name: "ctx"})
	defer x.Close()
	ctx := wflo.WithExecution(context.Background(), x)
	got, scope, ok := wflo.ExecutionFrom(ctx)
	if !ok || got != x || scope != nil {
		t.Fatal("execution not found in the context")
	}
	s, _ := x.Scope("plan", nil)
	_, scope, _ = wflo.ExecutionFrom(wflo.WithScope(ctx, s))
	if scope != s {
		t.Fatal("scope not found in the context")
	}
	if _, _, ok := wflo.ExecutionFrom(context.Background()); ok {
		t.Fatal("an empty context has no execution")
	}
}

func TestConcurrentReservationsNeverOverspend(t *testing.T) {
	e := memoryEngine(t)
	x, _ := e.StartExecution(wflo.ExecutionOptions{Name: "race", BudgetUSD: wflo.USD(0.05)})
	defer x.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r, err := x.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: 1000, MaxOutputTokens: 500})
				if err != nil {
					continue
				}
				_, _ = r.Settle(wflo.Usage{Input: 1000, Output: 500})
				r.Close()
			}
		}()
	}
	wg.Wait()
	b, _ := x.Breakdown()
	if b.TotalNanos > 50_000_000 || b.ReservedNanos != 0 || b.Calls+b.RefusedCalls != 800 {
		t.Fatalf("overspent or lost: %+v", b)
	}
	if b.Calls != 111 {
		t.Fatalf("exactly 111 calls of $0.00045 fit in $0.05, got %d", b.Calls)
	}
}

func TestChildScopesNestUnderTheirParentsBudget(t *testing.T) {
	e, err := wflo.Open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "nested", BudgetUSD: wflo.USD(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	research, err := x.Scope("research", wflo.USD(0.0001))
	if err != nil {
		t.Fatal(err)
	}
	search, err := research.Child("search", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The parent's budget refuses what the child, with none of its own, asks.
	_, err = search.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: 100, MaxOutputTokens: 1000})
	var refused *wflo.BudgetExceededError
	if !errors.As(err, &refused) || refused.Scope != "research" {
		t.Fatalf("child over its parent's budget: %v", err)
	}
	r, err := search.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: 10, MaxOutputTokens: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Settle(wflo.Usage{Input: 10, Output: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := research.Child("", nil); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("empty label: %v", err)
	}
	calls, _ := x.Calls()
	if len(calls) != 2 || calls[0].Step != "search" || calls[0].Status != "refused" || calls[1].Status != "ok" {
		t.Fatalf("calls: %+v", calls)
	}
}

// A shared scope keeps how it is served: from allowances unless told otherwise.
func TestASharedScopeKeepsHowItIsServed(t *testing.T) {
	e, err := wflo.Open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	served := func() bool {
		s, err := e.SharedScope("fleet")
		if err != nil {
			t.Fatal(err)
		}
		return s.Allowances
	}
	if err := e.DefineSharedScope("fleet", wflo.USD(1), "none"); err != nil {
		t.Fatal(err)
	}
	if !served() {
		t.Fatal("a new scope is served from allowances")
	}
	if err := e.DefineSharedScope("fleet", wflo.USD(2), "none", wflo.WithAllowances(false)); err != nil {
		t.Fatal(err)
	}
	if served() {
		t.Fatal("WithAllowances(false) is per call")
	}
	if err := e.DefineSharedScope("fleet", wflo.USD(3), "none"); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.SharedScope("fleet"); s.Allowances || s.LimitNanos == nil || *s.LimitNanos != 3_000_000_000 {
		t.Fatalf("defined again without saying, the setting is kept: %+v", s)
	}
}
