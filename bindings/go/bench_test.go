package wflo_test

import (
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// BenchmarkTrackedCall is one tracked call from Go through cgo (reserve + settle + record),
// the figure bench/tracked_call.sh puts beside C and Rust.
func BenchmarkTrackedCall(b *testing.B) {
	e, err := wflo.Open("memory://")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	req := wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: 1200, MaxOutputTokens: 400}
	usage := wflo.Usage{Input: 1000, CacheRead: 200, Output: 350}
	var x *wflo.Execution
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%10000 == 0 { // a fresh execution every 10,000 calls, as the Rust bench
			b.StopTimer()
			if x != nil {
				x.Close()
			}
			if x, err = e.StartExecution(wflo.ExecutionOptions{Name: "bench", BudgetUSD: wflo.USD(1e6)}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		r, err := x.Reserve(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Settle(usage); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// BenchmarkCost is one cost computation from Go through cgo (gpt-4o, 1,000 in + 200 out), the
// figure `make bench` puts beside every other face and beside litellm and tokencost.
func BenchmarkCost(b *testing.B) {
	e, err := wflo.Open("memory://")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	usage := wflo.Usage{Input: 1000, Output: 200}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Cost("gpt-4o", usage); err != nil {
			b.Fatal(err)
		}
	}
}
