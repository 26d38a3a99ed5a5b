package wflo_test

// Telemetry through the Go API: OnThreshold hears each alert once, in order, before the call
// that crossed it returns, and nothing after stop; the metrics text has the money lines; an
// execution joins the trace of a traceparent or of the context's OpenTelemetry span; the
// engine's events reach slog at their levels and never carry a prompt.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

const (
	secret      = "sk-SECRET-PLANTED"
	traceHex    = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceParent = "00-" + traceHex + "-00f067aa0ba902b7-01"
)

// record books a gpt-4o call of input and output tokens without a reservation.
func record(t *testing.T, x *wflo.Execution, input, output int) {
	t.Helper()
	usage := fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d}`, input, output)
	if _, err := x.RecordCall("gpt-4o", "openai_chat", []byte(usage)); err != nil {
		t.Fatal(err)
	}
}

// callWithSecret reserves a request whose prompt holds a planted secret and settles it with
// completion output tokens; the reservation's error when it is refused.
func callWithSecret(t *testing.T, x *wflo.Execution, maxTokens, completion int) error {
	t.Helper()
	req := fmt.Sprintf(`{"model":"gpt-4o","max_tokens":%d,"messages":[{"role":"user","content":"Summarise with key %s"}]}`,
		maxTokens, secret)
	r, _, err := x.ReserveRequest("openai_chat", []byte(req), nil)
	if err != nil {
		return err
	}
	defer r.Close()
	result := fmt.Sprintf(`{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":10,"completion_tokens":%d}}`, completion)
	if _, err := r.SettleResult("openai_chat", []byte(result), ""); err != nil {
		t.Fatal(err)
	}
	return nil
}

// alertLog collects alerts; the listener may run on any goroutine.
type alertLog struct {
	mu  sync.Mutex
	all []wflo.Alert
}

func (l *alertLog) add(a wflo.Alert) { l.mu.Lock(); l.all = append(l.all, a); l.mu.Unlock() }
func (l *alertLog) len() int         { l.mu.Lock(); defer l.mu.Unlock(); return len(l.all) }

func TestAlertsFireOnceEachInOrder(t *testing.T) {
	e := memoryEngine(t)
	var got alertLog
	stop, err := e.OnThreshold(got.add)
	if err != nil {
		t.Fatal(err)
	}
	// A listener that stops itself on its first alert hears exactly one.
	var selfStop func()
	selfCalls := 0
	selfStop, err = e.OnThreshold(func(wflo.Alert) { selfCalls++; selfStop() })
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "alerts", BudgetUSD: wflo.USD(0.10),
		AlertThresholds: []int{50, 80}, SoftBudgetUSD: wflo.USD(0.06)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	// 45%: nothing; 56%: 50%, inside the settling call; 76%: the soft budget; 86%: 80%.
	steps := []struct {
		do   func()
		want int
	}{
		{func() { record(t, x, 10, 4500) }, 0},
		{func() {
			if err := callWithSecret(t, x, 1200, 1100); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{func() { record(t, x, 0, 2000) }, 2},
		{func() { record(t, x, 0, 1000) }, 3},
		{func() { record(t, x, 0, 100) }, 3},
	}
	for i, s := range steps {
		s.do()
		if n := got.len(); n != s.want {
			t.Fatalf("after call %d: %d alerts, want %d", i, n, s.want)
		}
	}
	if selfCalls != 1 {
		t.Fatalf("the listener that stopped itself was called %d times", selfCalls)
	}
	want := []struct {
		kind    wflo.AlertKind
		percent uint32
		limit   uint64
	}{{wflo.AlertThreshold, 50, 100_000_000}, {wflo.AlertSoftBudget, 100, 60_000_000}, {wflo.AlertThreshold, 80, 100_000_000}}
	for i, w := range want {
		a := got.all[i]
		if a.Kind != w.kind || a.Percent != w.percent || a.LimitNanos != w.limit || a.SpentNanos*100 < w.limit*uint64(w.percent) ||
			a.ExecutionID != x.ID() || a.Workflow != "alerts" || a.Scope != "" || a.At().IsZero() {
			t.Errorf("alert %d: %+v, want %+v", i, a, w)
		}
	}
	if got.all[2].SpentNanos != 86_050_000 || got.all[2].SpentUSD != 0.08605 {
		t.Errorf("spent at 80%%: %d (%v USD)", got.all[2].SpentNanos, got.all[2].SpentUSD)
	}
	// Stopped: nothing more, even past every threshold of a new execution; stopping twice is fine.
	stop()
	stop()
	y, err := e.StartExecution(wflo.ExecutionOptions{Name: "after", BudgetUSD: wflo.USD(0.01)})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	record(t, y, 0, 1000)
	if n := got.len(); n != 3 {
		t.Fatalf("a stopped listener heard %d alerts", n-3)
	}
	// The engine decides what a threshold or a soft budget may be.
	for _, opts := range []wflo.ExecutionOptions{
		{Name: "bad", AlertThresholds: []int{80, 50}},
		{Name: "bad", AlertThresholds: []int{-1}},
		{Name: "bad", SoftBudgetUSD: wflo.USD(-1)},
	} {
		if _, err := e.StartExecution(opts); !errors.Is(err, wflo.ErrInvalidArgument) {
			t.Errorf("%+v: %v, want ErrInvalidArgument", opts, err)
		}
	}
	if _, err := e.OnThreshold(nil); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Errorf("OnThreshold(nil): %v", err)
	}
}

func TestListenersStopWhenTheEngineCloses(t *testing.T) {
	e, err := wflo.Open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	var got alertLog
	stop, err := e.OnThreshold(got.add)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	stop() // after Close: nothing to do, no panic
	if _, err := e.OnThreshold(got.add); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("OnThreshold on a closed engine: %v", err)
	}
	if _, err := e.MetricsText(); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("MetricsText on a closed engine: %v", err)
	}
}

func TestMetricsText(t *testing.T) {
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "metered", BudgetUSD: wflo.USD(0.05)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	record(t, x, 10, 4500) // $0.045025: 50% and 80% of $0.05
	if err := callWithSecret(t, x, 16000, 1); !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a refusal, got %v", err)
	}
	text, err := e.MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"# TYPE wflo_cost_usd_total counter",
		`wflo_cost_usd_total{model="gpt-4o",provider="openai",scope="(execution)"} 0.045025000`,
		`wflo_refusals_total{model="gpt-4o",provider="openai",scope="(execution)"} 1`,
		`wflo_alerts_total{scope_kind="execution",scope="metered",kind="threshold"} 2`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("metrics text lacks %q:\n%s", line, text)
		}
	}
	if strings.Contains(text, x.ID()) || strings.Contains(text, secret) {
		t.Errorf("an execution id or a prompt in the metrics:\n%s", text)
	}
}

func TestTraceIDJoinsTheHostsTrace(t *testing.T) {
	e := memoryEngine(t)
	start := func(ctx context.Context, opts wflo.ExecutionOptions) *wflo.Execution {
		t.Helper()
		opts.Name = "traced"
		x, err := e.StartExecutionContext(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(x.Close)
		return x
	}
	// An explicit traceparent.
	if got := start(context.Background(), wflo.ExecutionOptions{TraceParent: traceParent}).TraceID(); got != traceHex {
		t.Errorf("TraceID %q, want the traceparent's %s", got, traceHex)
	}
	// The context's OpenTelemetry span.
	spanTrace, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	spanID, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: spanTrace, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
	if got := start(ctx, wflo.ExecutionOptions{}).TraceID(); got != spanTrace.String() {
		t.Errorf("TraceID %q, want the span's %s", got, spanTrace)
	}
	// The explicit option wins over the context.
	if got := start(ctx, wflo.ExecutionOptions{TraceParent: traceParent}).TraceID(); got != traceHex {
		t.Errorf("TraceID %q, want the option's %s", got, traceHex)
	}
	// Neither: a trace of wflo's own, different each time.
	a, b := start(context.Background(), wflo.ExecutionOptions{}).TraceID(), start(context.Background(), wflo.ExecutionOptions{}).TraceID()
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(a) || a == b || a == traceHex {
		t.Errorf("fresh trace ids %q and %q", a, b)
	}
	if _, err := e.StartExecution(wflo.ExecutionOptions{Name: "bad", TraceParent: "00-zz"}); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Errorf("a bad traceparent: %v", err)
	}
	x := start(context.Background(), wflo.ExecutionOptions{})
	x.Close()
	if x.TraceID() != "" {
		t.Errorf("TraceID of a closed handle first read after Close: %q", x.TraceID())
	}
}

// capture is a slog handler that keeps every record it is given.
type capture struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }
func (c *capture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	return nil
}
func (c *capture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *capture) WithGroup(string) slog.Handler      { return c }

// seen counts the records at level whose message starts with prefix, and the records that
// hold the planted prompt.
func (c *capture) seen(level slog.Level, prefix string) (n, leaked int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.records {
		if r.Level == level && strings.HasPrefix(r.Message, prefix) {
			n++
		}
		if strings.Contains(r.Message, secret) || strings.Contains(r.Message, "Summarise") {
			leaked++
		}
	}
	return n, leaked
}

func (c *capture) count() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.records) }

func TestEventsReachSlogWithoutPrompts(t *testing.T) {
	var c capture
	if err := wflo.SetLogger(slog.New(&c), slog.LevelDebug); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wflo.SetLogger(nil, 0) })
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "logged", BudgetUSD: wflo.USD(0.02)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := callWithSecret(t, x, 1200, 1100); err != nil { // $0.011025: 50%
		t.Fatal(err)
	}
	if err := callWithSecret(t, x, 16000, 1); !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a refusal, got %v", err)
	}
	for _, w := range []struct {
		level  slog.Level
		prefix string
	}{{slog.LevelInfo, "refused: "}, {slog.LevelWarn, "alert: "}, {slog.LevelDebug, "settled: "}, {slog.LevelDebug, "reserved: "}} {
		if n, _ := c.seen(w.level, w.prefix); n == 0 {
			t.Errorf("no %v record %q", w.level, w.prefix)
		}
	}
	if _, leaked := c.seen(0, ""); leaked != 0 {
		t.Fatalf("%d records hold the prompt", leaked)
	}
	// At info, no debug records; silenced, none at all.
	if err := wflo.SetLogger(slog.New(&c), slog.LevelInfo); err != nil {
		t.Fatal(err)
	}
	debug, _ := c.seen(slog.LevelDebug, "")
	if err := callWithSecret(t, x, 100, 50); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.seen(slog.LevelDebug, ""); n != debug {
		t.Errorf("%d debug records at level info", n-debug)
	}
	if err := wflo.SetLogger(nil, 0); err != nil {
		t.Fatal(err)
	}
	before := c.count()
	if err := callWithSecret(t, x, 16000, 1); !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("want a refusal, got %v", err)
	}
	if c.count() != before {
		t.Errorf("a record after SetLogger(nil)")
	}
}

// The default route: with WFLO_LOG set, the first Open sends the events to slog.Default();
// an unknown WFLO_LOG is refused. Each case runs in a fresh process (the route is global).
func TestWfloLogRoutesToTheDefaultLogger(t *testing.T) {
	if os.Getenv("WFLO_TEST_LOG_CHILD") == "1" {
		var buf bytes.Buffer
		slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
		e, err := wflo.Open("memory://")
		if err != nil {
			fmt.Print("open: ", codeOf(err))
			return
		}
		defer e.Close()
		x, err := e.StartExecution(wflo.ExecutionOptions{Name: "env", BudgetUSD: wflo.USD(0)})
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if err := callWithSecret(t, x, 10, 1); !errors.Is(err, wflo.ErrBudgetExceeded) {
			t.Fatalf("want a refusal, got %v", err)
		}
		fmt.Print(buf.String())
		return
	}
	run := func(level string) string {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestWfloLogRoutesToTheDefaultLogger$")
		cmd.Env = append(os.Environ(), "WFLO_TEST_LOG_CHILD=1", "WFLO_LOG="+level)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("WFLO_LOG=%s: %v\n%s", level, err, out)
		}
		return string(out)
	}
	if out := run("info"); !strings.Contains(out, `level=INFO msg="refused: call refused before sending`) || strings.Contains(out, secret) {
		t.Errorf("WFLO_LOG=info:\n%s", out)
	}
	if out := run("error"); strings.Contains(out, "refused") {
		t.Errorf("WFLO_LOG=error logged a refusal:\n%s", out)
	}
	if out := run("chatty"); !strings.HasPrefix(out, "open: INVALID_ARGUMENT") {
		t.Errorf("WFLO_LOG=chatty: %s", out)
	}
}
