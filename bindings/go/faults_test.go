package wflo_test

// Provider faults through openai-go and wflo.Middleware() against `wflo mock-llm`: rate
// limits and server errors, the SDK's own retries, a connection reset mid-stream, a slow
// provider past the client's timeout. After each, nothing stays reserved, each attempt is
// recorded once with its status and cost (estimated when the usage never came), and the
// execution's total is exactly the sum of its recorded calls.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// clientWith is client(directives) with more options (later options win: retries, timeouts).
func clientWith(directives string, opts ...option.RequestOption) *openai.Client {
	base := mockURL + "/v1/"
	if directives != "" {
		base = mockURL + "/mock/" + directives + "/v1/"
	}
	all := append([]option.RequestOption{option.WithBaseURL(base), option.WithAPIKey("mock"),
		option.WithMaxRetries(0), option.WithMiddleware(wflo.Middleware())}, opts...)
	c := openai.NewClient(all...)
	return &c
}

// balanced checks the books after a fault: nothing reserved, no overrun, the total is the sum
// of the recorded calls to the nano-USD, and the remaining budget is the budget minus it.
func balanced(t *testing.T, x *wflo.Execution) []wflo.CallRecord {
	t.Helper()
	calls, err := x.Calls()
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.Breakdown()
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, c := range calls {
		sum += c.CostNanos
	}
	if b.ReservedNanos != 0 || b.OverrunNanos != 0 || b.TotalNanos != sum {
		t.Fatalf("unbalanced: reserved %d, overrun %d, total %d, calls sum to %d",
			b.ReservedNanos, b.OverrunNanos, b.TotalNanos, sum)
	}
	if b.BudgetNanos != nil && (b.RemainingNanos == nil || *b.RemainingNanos != *b.BudgetNanos-sum) {
		t.Fatalf("remaining %v of budget %d after spending %d", b.RemainingNanos, *b.BudgetNanos, sum)
	}
	return calls
}

// released checks one failed attempt: an error record that cost nothing.
func released(t *testing.T, c wflo.CallRecord, why string) {
	t.Helper()
	if c.Status != "error" || c.CostNanos != 0 || c.Usage != (wflo.Usage{}) || c.Error == nil ||
		!strings.Contains(*c.Error, why) {
		t.Fatalf("want a free error record mentioning %q: %+v (error %v)", why, c, c.Error)
	}
}

func TestRateLimitsAndServerErrorsAreReleased(t *testing.T) {
	for _, status := range []string{"429", "500"} {
		_, x, ctx := execution(t, 1)
		before := mockStats(t)["status."+status]
		_, err := clientWith("status="+status).Chat.Completions.New(ctx, question)
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || strconv.Itoa(apiErr.StatusCode) != status {
			t.Fatalf("want the provider's %s, got %v", status, err)
		}
		if served := mockStats(t)["status."+status] - before; served != 1 {
			t.Fatalf("%s: the mock answered %d times, want 1 (retries are off)", status, served)
		}
		calls := balanced(t, x)
		if len(calls) != 1 {
			t.Fatalf("%s: want one record, got %+v", status, calls)
		}
		released(t, calls[0], status)
	}
}

func TestTheSDKsRetriesAreEachMeteredAndRecorded(t *testing.T) {
	// openai-go retries 429 (and 5xx) twice by default; the mock asks for a 10 ms wait. The
	// middleware sits inside the retry loop: every attempt is reserved, sent and released.
	_, x, ctx := execution(t, 1)
	before := mockStats(t)["status.429"]
	_, err := clientWith("status=429", option.WithMaxRetries(2)).Chat.Completions.New(ctx, question)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("want the last attempt's 429, got %v", err)
	}
	if served := mockStats(t)["status.429"] - before; served != 3 {
		t.Fatalf("the mock answered %d attempts, want 3", served)
	}
	calls := balanced(t, x)
	if len(calls) != 3 {
		t.Fatalf("want one record per attempt, got %d: %+v", len(calls), calls)
	}
	for _, c := range calls {
		released(t, c, "429")
	}

	// A retry that succeeds: the first attempt fails (an x-mock header set only on it, by a
	// middleware outside wflo's), the second is billed. One error record, one ok record.
	e, x, ctx := execution(t, 1)
	firstFails := func(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		if req.Header.Get("X-Stainless-Retry-Count") == "0" {
			req.Header.Set("x-mock", "status=500")
		}
		return next(req)
	}
	resp, err := clientWith("", option.WithMaxRetries(2), option.WithMiddleware(firstFails)).
		Chat.Completions.New(ctx, question)
	if err != nil {
		t.Fatal(err)
	}
	calls = balanced(t, x)
	if len(calls) != 2 {
		t.Fatalf("want two records, got %+v", calls)
	}
	released(t, calls[0], "500")
	want, _ := e.Cost("gpt-4o-mini", wflo.Usage{Input: uint64(resp.Usage.PromptTokens), Output: uint64(resp.Usage.CompletionTokens)})
	if ok := calls[1]; ok.Status != "ok" || ok.Estimated || ok.CostNanos != want || want == 0 {
		t.Fatalf("the successful retry: %+v, want cost %d", ok, want)
	}
}

func TestAStreamResetMidWayIsAnErrorChargedForWhatItStreamed(t *testing.T) {
	e, x, ctx := execution(t, 1)
	stream := clientWith("reset=3,reply=40").Chat.Completions.NewStreaming(ctx, question)
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	err := stream.Err()
	_ = stream.Close()
	if err == nil || errors.Is(err, wflo.ErrStorage) {
		t.Fatalf("want the transport's error, got %v", err)
	}
	var we *wflo.Error
	if errors.As(err, &we) {
		t.Fatalf("a wflo error reached the caller instead of the transport's: %v", err)
	}
	calls := balanced(t, x)
	if len(calls) != 1 {
		t.Fatalf("want one record, got %+v", calls)
	}
	c := calls[0]
	prompt, _ := e.CountChatTokens("gpt-4o-mini", []map[string]string{{"role": "user", "content": "Name three BPE tokenizers."}})
	out, _ := e.CountTokens("gpt-4o-mini", text.String())
	if c.Status != "error" || !c.Estimated || !c.UsageMissing || !c.Stream || c.Usage.Input != prompt.Tokens ||
		c.Usage.Output != out.Tokens || text.Len() == 0 {
		t.Fatalf("want an estimated error record of what was streamed (%d+%d tokens): %+v", prompt.Tokens, out.Tokens, c)
	}
	want, _ := e.Cost("gpt-4o-mini", c.Usage)
	if c.CostNanos != want || want == 0 {
		t.Fatalf("cost %d, want %d", c.CostNanos, want)
	}
}

func TestASlowProviderPastTheClientsTimeoutIsReleased(t *testing.T) {
	// The mock waits 2 s before answering; the client gives up after 200 ms — by its request
	// timeout, or by the deadline of the context that carries the execution.
	cases := []struct {
		name   string
		stream bool
		call   func(ctx context.Context) error
	}{
		{"request timeout", false, func(ctx context.Context) error {
			_, err := clientWith("latency=2000", option.WithRequestTimeout(200*time.Millisecond)).Chat.Completions.New(ctx, question)
			return err
		}},
		{"context deadline", false, func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_, err := clientWith("latency=2000").Chat.Completions.New(ctx, question)
			return err
		}},
		{"stream, request timeout", true, func(ctx context.Context) error {
			s := clientWith("latency=2000", option.WithRequestTimeout(200*time.Millisecond)).Chat.Completions.NewStreaming(ctx, question)
			for s.Next() {
			}
			defer s.Close()
			return s.Err()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, x, ctx := execution(t, 1)
			started := time.Now()
			err := tc.call(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want the client's deadline, got %v", err)
			}
			if waited := time.Since(started); waited > 1500*time.Millisecond {
				t.Fatalf("the client waited %v for a provider it had given up on", waited)
			}
			calls := balanced(t, x)
			if len(calls) != 1 || calls[0].Stream != tc.stream {
				t.Fatalf("want one record, got %+v", calls)
			}
			released(t, calls[0], "deadline exceeded")
		})
	}
}
