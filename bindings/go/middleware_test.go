package wflo_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/openai/openai-go/v3"
	wflo "github.com/wflo-dev/wflo/bindings/go"
)

var (
	mockURL  string
	mockOnce sync.Once
	mockCmd  *exec.Cmd
)

// startMock starts `wflo mock-llm` (WFLO_BIN) the first time a test needs it.
func startMock(t *testing.T) {
	t.Helper()
	mockOnce.Do(func() {
		bin := os.Getenv("WFLO_BIN")
		if bin == "" {
			bin = "../../target/debug/wflo"
		}
		cmd := exec.Command(bin, "mock-llm", "--port", "0")
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			return
		}
		line, _ := bufio.NewReader(out).ReadString('\n')
		mockURL = strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
		mockCmd = cmd
	})
	if mockURL == "" {
		t.Fatal("cannot start wflo mock-llm: set WFLO_BIN to the wflo binary")
	}
}

// TestMain stops the mock server after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if mockCmd != nil {
		_ = mockCmd.Process.Kill()
		_ = mockCmd.Wait()
	}
	os.Exit(code)
}

func mockStats(t *testing.T) map[string]int {
	t.Helper()
	startMock(t)
	resp, err := http.Get(mockURL + "/__mock/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s map[string]int
	_ = json.NewDecoder(resp.Body).Decode(&s)
	return s
}

// client is a metered client of the mock, without retries; directives shape its answers.
func client(directives string) *openai.Client { return clientWith(directives) }

var question = openai.ChatCompletionNewParams{
	Model:    "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Name three BPE tokenizers.")},
}

func execution(t *testing.T, budgetUSD float64) (*wflo.Engine, *wflo.Execution, context.Context) {
	t.Helper()
	startMock(t)
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: t.Name(), BudgetUSD: wflo.USD(budgetUSD)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	return e, x, wflo.WithExecution(context.Background(), x)
}

func TestOpenAICallsAreMeteredWithTheMocksUsage(t *testing.T) {
	e, x, ctx := execution(t, 1)
	resp, err := client("cached=4").Chat.Completions.New(ctx, question)
	if err != nil {
		t.Fatal(err)
	}
	calls, _ := x.Calls()
	if len(calls) != 1 || calls[0].Status != "ok" || calls[0].Estimated {
		t.Fatalf("calls: %+v", calls)
	}
	u := resp.Usage
	want, _ := e.Cost("gpt-4o-mini", wflo.Usage{Input: uint64(u.PromptTokens - 4), CacheRead: 4, Output: uint64(u.CompletionTokens)})
	if calls[0].CostNanos != want || calls[0].Usage.CacheRead != 4 {
		t.Fatalf("cost %d, want %d (%+v)", calls[0].CostNanos, want, calls[0].Usage)
	}
	// Without an execution in the context the client works as before, unmetered.
	if _, err := client("").Chat.Completions.New(context.Background(), question); err != nil {
		t.Fatal(err)
	}
	if calls, _ := x.Calls(); len(calls) != 1 {
		t.Fatalf("an unmetered call was attributed: %d", len(calls))
	}
}

func TestARefusedCallNeverReachesTheProvider(t *testing.T) {
	_, x, ctx := execution(t, 0.0001)
	before := mockStats(t)["chat.completions"]
	big := question
	big.MaxTokens = openai.Int(4000)
	_, err := client("").Chat.Completions.New(ctx, big)
	if !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a budget refusal, got %v", err)
	}
	if after := mockStats(t)["chat.completions"]; after != before {
		t.Fatalf("the refused request reached the mock: %d -> %d", before, after)
	}
	b, _ := x.Breakdown()
	if b.RefusedCalls != 1 || b.TotalNanos != 0 {
		t.Fatalf("breakdown: %+v", b)
	}
}

func TestStreamsAskForUsageAndAreSettledWhenTheyEnd(t *testing.T) {
	_, x, ctx := execution(t, 1)
	stream := client("").Chat.Completions.NewStreaming(ctx, question)
	var text strings.Builder
	for stream.Next() {
		if c := stream.Current(); len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	_ = stream.Close()
	calls, _ := x.Calls()
	if len(calls) != 1 || !calls[0].Stream || calls[0].Estimated || calls[0].UsageMissing || calls[0].Usage.Output == 0 {
		t.Fatalf("the stream was not settled from its usage chunk: %+v", calls)
	}
	if text.Len() == 0 {
		t.Fatal("the client saw no text")
	}
}

func TestAStreamCutBeforeItsUsageIsRecordedAsEstimated(t *testing.T) {
	e, x, ctx := execution(t, 1)
	stream := client("cut=usage").Chat.Completions.NewStreaming(ctx, question)
	for stream.Next() {
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err) // the stream ended cleanly, only without its usage
	}
	_ = stream.Close()
	calls := balanced(t, x)
	if len(calls) != 1 || calls[0].Status != "ok" || !calls[0].Estimated || !calls[0].UsageMissing || calls[0].CostNanos == 0 {
		t.Fatalf("want an estimated, non-zero record: %+v", calls)
	}
	if want, _ := e.Cost("gpt-4o-mini", calls[0].Usage); calls[0].CostNanos != want {
		t.Fatalf("cost %d, want %d for %+v", calls[0].CostNanos, want, calls[0].Usage)
	}
}

func TestProviderErrorsReleaseTheReservation(t *testing.T) {
	_, x, ctx := execution(t, 1)
	_, err := client("status=500").Chat.Completions.New(ctx, question)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 {
		t.Fatalf("want the provider's 500, got %v", err)
	}
	b, _ := x.Breakdown()
	calls, _ := x.Calls()
	if b.ReservedNanos != 0 || b.TotalNanos != 0 || len(calls) != 1 || calls[0].Status != "error" {
		t.Fatalf("breakdown %+v calls %+v", b, calls)
	}
}

func TestConcurrentExecutionsNeverMix(t *testing.T) {
	startMock(t)
	e := memoryEngine(t)
	var wg sync.WaitGroup
	execs := make([]*wflo.Execution, 10)
	for i := range execs {
		x, err := e.StartExecution(wflo.ExecutionOptions{Name: fmt.Sprint("worker-", i), BudgetUSD: wflo.USD(1)})
		if err != nil {
			t.Fatal(err)
		}
		execs[i] = x
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := wflo.WithExecution(context.Background(), x)
			for j := 0; j <= i%3; j++ {
				if _, err := client("").Chat.Completions.New(ctx, question); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for i, x := range execs {
		calls, _ := x.Calls()
		if len(calls) != i%3+1 {
			t.Errorf("execution %d has %d calls, want %d", i, len(calls), i%3+1)
		}
		for _, c := range calls {
			if c.ExecutionID != x.ID() {
				t.Errorf("a call of %s was recorded on %s", c.ExecutionID, x.ID())
			}
		}
		x.Close()
	}
}

// fakeProvider answers every request with answer and keeps the body it was sent.
type fakeProvider struct {
	sent   []byte
	answer string
}

func (f *fakeProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	f.sent, _ = io.ReadAll(req.Body)
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(f.answer)), Request: req}, nil
}

func TestTheEngineReadsTheRequestAndTheHostNamesTheProvider(t *testing.T) {
	_, x, ctx := execution(t, 1)
	// A result without usage: the engine estimates it from its text.
	fake := &fakeProvider{answer: `{"choices":[{"index":0,"message":{"role":"assistant","content":"2, 3, 5"}}]}`}
	hc := &http.Client{Transport: wflo.Transport(fake)}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://api.x.ai/v1/chat/completions",
		strings.NewReader(`{"model":"grok-4","messages":[{"role":"user","content":"Name three primes."}]}`))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	var sent map[string]any
	if err := json.Unmarshal(fake.sent, &sent); err != nil || (sent["max_tokens"] == nil && sent["max_completion_tokens"] == nil) {
		t.Fatalf("the body sent must carry the limit reserved for: %s %v", fake.sent, err)
	}
	calls := balanced(t, x)
	if len(calls) != 1 || calls[0].Provider != "xai" || calls[0].Model == nil || *calls[0].Model != "xai/grok-4" ||
		!calls[0].Estimated || calls[0].Usage.Output == 0 || calls[0].CostNanos == 0 {
		t.Fatalf("want an estimated xai call: %+v", calls)
	}
}
