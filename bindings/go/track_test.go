package wflo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// TrackLLMCall against wflo mock-llm with the real openai-go: a function whose call goes
// through wflo.Middleware is budgeted from its actual request (a $0.01 budget of 50-token
// gpt-4o calls is spent nearly whole, never over); one calling through a plain HTTP client is
// reserved up front, and its refusal says how to make it precise.

var fact = openai.ChatCompletionNewParams{
	Model:     "gpt-4o",
	MaxTokens: openai.Int(50),
	Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("One short fact about otters.")},
}

func okCalls(t *testing.T, x *wflo.Execution) []wflo.CallRecord {
	t.Helper()
	calls, err := x.Calls()
	if err != nil {
		t.Fatal(err)
	}
	var ok []wflo.CallRecord
	for _, c := range calls {
		if c.Status == "ok" {
			ok = append(ok, c)
		}
	}
	return ok
}

func TestTrackLLMCallThroughTheMiddlewareSpendsASmallBudgetNearlyWhole(t *testing.T) {
	_, x, ctx := execution(t, 0.01)
	llm := client("reply=40")
	ask := func(ctx context.Context) (*openai.ChatCompletion, error) {
		return llm.Chat.Completions.New(ctx, fact)
	}
	before := mockStats(t)["chat.completions"]
	answered := 0
	var refused error
	for {
		_, err := wflo.TrackLLMCall(ctx, wflo.Track{Model: "gpt-4o", Metered: true}, ask)
		if err != nil {
			refused = err
			break
		}
		answered++
	}
	if !errors.Is(refused, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a budget refusal, got %v", refused)
	}
	if strings.Contains(refused.Error(), "reserved up front") {
		t.Fatalf("refused from the real request, nothing to explain: %v", refused)
	}
	b, _ := x.Breakdown()
	if answered < 10 || b.TotalNanos < 9_000_000 || b.TotalNanos > 10_000_000 {
		t.Fatalf("answered %d, spent %d nano-USD of 10,000,000", answered, b.TotalNanos)
	}
	if sent := mockStats(t)["chat.completions"] - before; sent != answered {
		t.Fatalf("%d requests for %d answers: the refused call was sent", sent, answered)
	}
	for _, c := range okCalls(t, x) {
		if c.ReservedNanos >= 1_000_000 {
			t.Fatalf("reserved %d: not from the request's 50 tokens", c.ReservedNanos)
		}
	}
}

// plainCall posts a chat request with net/http, which wflo does not meter.
func plainCall(directives string) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		body, _ := json.Marshal(map[string]any{"model": "gpt-4o", "max_tokens": 50,
			"messages": []map[string]string{{"role": "user", "content": "hello"}}})
		req, _ := http.NewRequestWithContext(ctx, "POST", mockURL+"/mock/"+directives+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, err = out.ReadFrom(resp.Body)
		return out.Bytes(), err
	}
}

func TestTrackLLMCallReservesACallItCannotSeeUpFront(t *testing.T) {
	_, small, ctx := execution(t, 0.01)
	before := mockStats(t)["chat.completions"]
	_, err := wflo.TrackLLMCall(ctx, wflo.Track{Model: "gpt-4o", Input: "hello"}, plainCall("reply=5"))
	var be *wflo.BudgetExceededError
	if !errors.As(err, &be) {
		t.Fatalf("want a budget refusal, got %v", err)
	}
	for _, want := range []string{"the model's maximum output (16384 tokens), as no max_tokens was given",
		"make the call through a client wflo meters"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("the refusal does not say %q: %v", want, err)
		}
	}
	if after := mockStats(t)["chat.completions"]; after != before {
		t.Fatal("the refused call was sent")
	}
	_ = small

	_, roomy, ctx := execution(t, 1)
	reply, err := wflo.TrackLLMCall(ctx, wflo.Track{Model: "gpt-4o", Input: "hello"}, plainCall("reply=5"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Usage struct {
			CompletionTokens uint64 `json:"completion_tokens"`
		} `json:"usage"`
	}
	_ = json.Unmarshal(reply, &got)
	calls := okCalls(t, roomy)
	if len(calls) != 1 || calls[0].ReservedNanos <= 100_000_000 || calls[0].Usage.Output != got.Usage.CompletionTokens {
		t.Fatalf("want one call reserved at gpt-4o's maximum and settled from the reply: %+v", calls)
	}

	// A metered client inside an up-front tracker does not charge the call twice.
	_, once, ctx := execution(t, 1)
	_, err = wflo.TrackLLMCall(ctx, wflo.Track{Model: "gpt-4o", MaxTokens: 50, Input: "hello"},
		func(ctx context.Context) (*openai.ChatCompletion, error) {
			return client("reply=5").Chat.Completions.New(ctx, fact)
		})
	if err != nil {
		t.Fatal(err)
	}
	if calls, _ := once.Calls(); len(calls) != 1 || calls[0].ReservedNanos >= 1_000_000 {
		t.Fatalf("want one call, reserved up front at max_tokens 50: %+v", calls)
	}

	// fn's error releases the reservation: nothing spent, the call recorded as an error.
	_, failed, ctx := execution(t, 1)
	boom := errors.New("boom")
	if _, err := wflo.TrackLLMCall(ctx, wflo.Track{Model: "gpt-4o", MaxTokens: 50},
		func(context.Context) (string, error) { return "", boom }); !errors.Is(err, boom) {
		t.Fatalf("want fn's error, got %v", err)
	}
	if b, _ := failed.Breakdown(); b.TotalNanos != 0 || b.ReservedNanos != 0 {
		t.Fatalf("a failed call cost something: %+v", b)
	}
}
