// The quick tour from Go: start an execution, track calls, hit the budget, checkpoint, roll
// back, print the breakdown. Run by `make test-go`; the README's Go snippet is the part
// between the tour markers.
package main

import (
	"errors"
	"fmt"
	"log"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func main() {
	// tour:start
	engine, err := wflo.Open("memory://")
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	exec, err := engine.StartExecution(wflo.ExecutionOptions{Name: "research-agent", BudgetUSD: 0.01})
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	search, _ := exec.Scope("search", 0)

	// Count the prompt, reserve the worst case BEFORE the request leaves the process…
	messages := []map[string]string{{"role": "user", "content": "Find three papers on BPE."}}
	prompt, _ := engine.CountChatTokens("gpt-4o-mini", messages)
	call, err := search.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: prompt.Tokens, MaxOutputTokens: 400})
	if err != nil {
		log.Fatal(err)
	}
	// …send it, then settle with the usage the provider reported.
	record, err := call.SettleJSON("openai_chat", []byte(`{"usage":{"prompt_tokens":19,"completion_tokens":180}}`))
	if err != nil {
		log.Fatal(err)
	}
	call.Close()
	fmt.Printf("call cost $%.8f\n", wflo.NanosToUSD(record.CostNanos))
	if _, err := exec.Checkpoint("searched", map[string]any{"papers": []string{"a", "b", "c"}}); err != nil {
		log.Fatal(err)
	}

	// A call that could overspend is refused before anything is sent.
	_, err = exec.Reserve(wflo.CallRequest{Model: "gpt-4o", InputTokens: 3000, MaxOutputTokens: 4000})
	var refused *wflo.BudgetExceededError
	if !errors.As(err, &refused) {
		log.Fatalf("expected a refusal, got %v", err)
	}
	fmt.Printf("refused: needs up to $%.4f of a $%.2f budget\n", refused.RequestedUSD(), refused.LimitUSD())

	// Roll back to the last good state and look at where the money went.
	state, _ := exec.RollbackToCheckpoint("searched")
	breakdown, _ := exec.Breakdown()
	fmt.Printf("rolled back to %s\ntotal $%.8f, %d call(s), %d refused\n", state, breakdown.TotalUSD,
		breakdown.Calls, breakdown.RefusedCalls)
	// tour:end
	if breakdown.Calls != 1 || breakdown.RefusedCalls != 1 {
		log.Fatal("unexpected breakdown")
	}
}
