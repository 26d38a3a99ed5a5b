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
	exec, err := engine.StartExecution(wflo.ExecutionOptions{Name: "research-agent", BudgetUSD: wflo.USD(0.01)})
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	search, _ := exec.Scope("search", nil)

	// The engine reads the request (prompt, output limit) and reserves its worst case BEFORE
	// it leaves the process; send the body it returns (the limit it reserved for written in)…
	request := []byte(`{"model": "gpt-4o-mini", "max_tokens": 400,
		"messages": [{"role": "user", "content": "Find three papers on BPE."}]}`)
	call, body, err := search.ReserveRequest("openai_chat", request, nil)
	if err != nil {
		log.Fatal(err)
	}
	_ = body // POST it to the provider
	// …then settle with what the provider returned (its usage; estimated when it has none).
	record, err := call.SettleResult("openai_chat", []byte(`{"usage":{"prompt_tokens":19,"completion_tokens":180}}`), "ok")
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

	// End it the way the work ended: nil → completed; an error whose chain holds a budget
	// refusal → budget_exceeded; any other error → failed.
	status, err := exec.End(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("finished:", status)
	// tour:end
	if breakdown.Calls != 1 || breakdown.RefusedCalls != 1 || status != "completed" {
		log.Fatal("unexpected breakdown")
	}
}
