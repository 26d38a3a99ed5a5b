// The Go workload of tests/otel/run.py: an application with the OpenTelemetry SDK calls
// `wflo mock-llm` through openai-go (wflo.Middleware metering it) and through net/http
// (wflo.Transport, Anthropic Messages), inside a span of its own that the execution joins
// (StartExecutionContext). Prints one line "OTEL-RESULT {json}" for run.py to check.
//
// Environment: MOCK_URL, WFLO_DB, OTEL_* (run.py's). A planted secret is in the prompt, the
// checkpoint state and the API key.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	wflo "github.com/wflo-dev/wflo/bindings/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

const (
	secret = "sk-SECRET-PLANTED-OTEL"
	apiKey = "sk-otel-PLANTED-API-KEY-0123456789"
)

func main() {
	mock := os.Getenv("MOCK_URL")
	appSpans := tracetest.NewInMemoryExporter()
	provider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(appSpans))
	tracer := provider.Tracer("otel-test-app")

	engine, err := wflo.Open(os.Getenv("WFLO_DB"))
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	var alerts []map[string]any
	stop, err := engine.OnThreshold(func(a wflo.Alert) {
		mu.Lock()
		defer mu.Unlock()
		alerts = append(alerts, map[string]any{"scope": a.Scope, "kind": string(a.Kind), "percent": a.Percent,
			"limit_nanos": a.LimitNanos, "spent_nanos": a.SpentNanos})
	})
	if err != nil {
		log.Fatal(err)
	}
	oa := openai.NewClient(option.WithBaseURL(mock+"/mock/cached=5,reasoning=3/v1"), option.WithAPIKey(apiKey),
		option.WithMaxRetries(0), option.WithMiddleware(wflo.Middleware()))
	anthropic := &http.Client{Transport: wflo.Transport(nil)}
	prompt := "Keep " + secret + " to yourself and draft a plan."
	var asked [][]any
	refused := 0

	ctx, span := tracer.Start(context.Background(), "handle-request")
	exec, err := engine.StartExecutionContext(ctx, wflo.ExecutionOptions{Name: "otel-go", BudgetUSD: wflo.USD(0.01),
		AlertThresholds: []int{1, 5}})
	if err != nil {
		log.Fatal(err)
	}
	scoped := func(label string) context.Context {
		s, err := exec.Scope(label, nil)
		if err != nil {
			log.Fatal(err)
		}
		return wflo.WithScope(ctx, s)
	}

	asked = append(asked, []any{"draft", 60})
	if _, err := oa.Chat.Completions.New(scoped("draft"), openai.ChatCompletionNewParams{
		Model: "gpt-4o-mini", MaxTokens: openai.Int(60),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	}); err != nil {
		log.Fatal(err)
	}
	if _, err := exec.Checkpoint("drafted", map[string]any{"note": secret}); err != nil {
		log.Fatal(err)
	}

	asked = append(asked, []any{"review", 80})
	body, _ := json.Marshal(map[string]any{"model": "claude-sonnet-4-6", "max_tokens": 80,
		"messages": []map[string]any{{"role": "user", "content": prompt}}})
	req, _ := http.NewRequestWithContext(scoped("review"), http.MethodPost, mock+"/mock/cache_write=7,cached=4/v1/messages",
		bytes.NewReader(body))
	req.Header.Set("content-type", "application/json")
	req.Header.Set("x-api-key", apiKey)
	req.Header.Set("anthropic-version", "2023-06-01")
	resp, err := anthropic.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		log.Fatalf("anthropic: HTTP %d", resp.StatusCode)
	}

	asked = append(asked, []any{"expand", 4000})
	_, err = oa.Chat.Completions.New(scoped("expand"), openai.ChatCompletionNewParams{
		Model: "gpt-4o", MaxTokens: openai.Int(4000),
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	})
	var be *wflo.BudgetExceededError
	if !errors.As(err, &be) {
		log.Fatalf("expected a refusal, got %v", err)
	}
	refused++
	if _, err := exec.RollbackToCheckpoint("drafted"); err != nil {
		log.Fatal(err)
	}
	if err := exec.Finish("completed"); err != nil {
		log.Fatal(err)
	}
	span.End()

	metrics, err := engine.MetricsText()
	if err != nil {
		log.Fatal(err)
	}
	if os.Getenv("OTEL_TEST_WAIT_DROPPED") != "" {
		// The endpoint is down: wait for the exporter's failures to be counted.
		re := regexp.MustCompile(`(?m)^wflo_telemetry_dropped_total (\d+)`)
		dropped := func() int {
			m := re.FindStringSubmatch(metrics)
			if m == nil {
				return 0
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		for deadline := time.Now().Add(15 * time.Second); dropped() == 0 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			if metrics, err = engine.MetricsText(); err != nil {
				log.Fatal(err)
			}
		}
	}
	stop()
	id, traceID := exec.ID(), exec.TraceID()
	exec.Close()
	if err := engine.Close(); err != nil {
		log.Fatal(err)
	}
	var names []string
	for _, s := range appSpans.GetSpans() {
		names = append(names, s.Name)
	}
	sc := span.SpanContext()
	mu.Lock()
	out, _ := json.Marshal(map[string]any{
		"face": "go", "execution_id": id, "workflow": "otel-go", "trace_id": traceID,
		"app_trace_id": sc.TraceID().String(), "app_span_id": sc.SpanID().String(), "app_spans": names,
		"asked": asked, "refused": refused, "alerts": alerts, "metrics_text": metrics,
	})
	mu.Unlock()
	fmt.Println("OTEL-RESULT " + string(out))
}
