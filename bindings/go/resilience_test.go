package wflo_test

// Retries and circuit breakers through the Go API: the engine's decisions per backoff, seeded
// jitter, the Retry loop (flaky then fine, not retryable, exhausted, refused by the budget,
// cancelled), breakers that open, fail fast and recover, and the middleware's retries.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// decisions asks a retrier of policy about n failures of kind and returns its decisions.
func decisions(t *testing.T, e *wflo.Engine, policy wflo.RetryPolicy, n int, f wflo.Failure) []wflo.Decision {
	t.Helper()
	r, err := e.Retrier(policy)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []wflo.Decision
	for range n {
		d, err := r.Next(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func delays(ds []wflo.Decision) []time.Duration {
	var out []time.Duration
	for _, d := range ds {
		if d.Retry {
			out = append(out, d.Delay)
		}
	}
	return out
}

func TestRetrierDecisionsPerBackoff(t *testing.T) {
	e := memoryEngine(t)
	ms := time.Millisecond
	unavailable := wflo.Failure{Kind: wflo.FailureHTTP, Status: 503, Message: "503 Service Unavailable"}
	for _, c := range []struct {
		backoff wflo.Backoff
		want    []time.Duration
	}{
		{wflo.BackoffExponential, []time.Duration{10 * ms, 20 * ms, 35 * ms}}, // 40 capped at 35
		{wflo.BackoffLinear, []time.Duration{10 * ms, 20 * ms, 30 * ms}},
		{wflo.BackoffFixed, []time.Duration{10 * ms, 10 * ms, 10 * ms}},
	} {
		policy := wflo.RetryPolicy{Backoff: c.backoff, MaxRetries: new(3), BaseDelay: 10 * ms, MaxDelay: 35 * ms,
			Jitter: new(0.0)}
		ds := decisions(t, e, policy, 4, unavailable)
		if got := delays(ds); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: delays %v, want %v", c.backoff, got, c.want)
		}
		for i, d := range ds[:3] {
			if !d.Retry || d.Attempt != i+2 || !strings.Contains(d.Reason, "503 Service Unavailable") {
				t.Errorf("%s: decision %d: %+v", c.backoff, i, d)
			}
		}
		if last := ds[3]; last.Retry || last.Why != wflo.GiveUpExhausted || !strings.Contains(last.Reason, "gave up after 4 attempts") {
			t.Errorf("%s: after max_retries: %+v", c.backoff, last)
		}
	}
	// Not retryable, whatever the policy: a 400, a refusal, anything unknown.
	for _, f := range []wflo.Failure{{Kind: wflo.FailureHTTP, Status: 400}, {Kind: wflo.FailureRefused},
		{Kind: wflo.FailureOther}} {
		if d := decisions(t, e, wflo.RetryPolicy{}, 1, f)[0]; d.Retry || d.Why != wflo.GiveUpNotRetryable ||
			!strings.Contains(d.Reason, "not retryable") {
			t.Errorf("%+v: %+v", f, d)
		}
	}
	// The server's Retry-After wins over a shorter backoff.
	f := wflo.Failure{Kind: wflo.FailureHTTP, Status: 429, Headers: http.Header{"Retry-After-Ms": {"70"}}}
	if d := decisions(t, e, wflo.RetryPolicy{BaseDelay: ms, Jitter: new(0.0)}, 1, f)[0]; !d.Retry || d.Delay != 70*ms {
		t.Errorf("retry-after-ms 70: %+v", d)
	}
	// A wait that would pass the deadline gives up.
	late := wflo.RetryPolicy{BaseDelay: 50 * ms, Jitter: new(0.0), Deadline: 10 * ms}
	if d := decisions(t, e, late, 1, unavailable)[0]; d.Retry || d.Why != wflo.GiveUpDeadline {
		t.Errorf("past the deadline: %+v", d)
	}
	// Switched off: timeouts and connection errors.
	no := wflo.RetryPolicy{RetryTimeouts: new(false), RetryConnectionErrors: new(false)}
	for _, k := range []wflo.FailureKind{wflo.FailureTimeout, wflo.FailureConnection} {
		if d := decisions(t, e, no, 1, wflo.Failure{Kind: k})[0]; d.Retry {
			t.Errorf("%s retried although switched off: %+v", k, d)
		}
	}
}

func TestSeededJitterStaysInItsBoundsAndRepeats(t *testing.T) {
	e := memoryEngine(t)
	policy := wflo.RetryPolicy{MaxRetries: new(3), BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second,
		Jitter: new(0.5), Seed: new(uint64(7))}
	f := wflo.Failure{Kind: wflo.FailureTimeout}
	first := delays(decisions(t, e, policy, 3, f))
	for i, d := range first {
		base := 100 * time.Millisecond << i
		if d < base/2 || d > base*3/2 {
			t.Errorf("retry %d: %v outside %v ± 50%%", i+1, d, base)
		}
	}
	if again := delays(decisions(t, e, policy, 3, f)); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("the same seed drew %v, then %v", first, again)
	}
}

func TestRetryPolicyConvertsAndIsChecked(t *testing.T) {
	e := memoryEngine(t)
	var p wflo.RetryPolicy
	in := `{"backoff":"linear","max_retries":0,"base_delay_ms":2,"jitter":0,"deadline_ms":500,"retry_statuses":[],"seed":3}`
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	if p.Backoff != wflo.BackoffLinear || *p.MaxRetries != 0 || p.BaseDelay != 2*time.Millisecond ||
		*p.Jitter != 0 || p.Deadline != 500*time.Millisecond || p.RetryStatuses == nil || *p.Seed != 3 {
		t.Fatalf("decoded %+v", p)
	}
	out, _ := json.Marshal(p)
	var back map[string]any
	_ = json.Unmarshal(out, &back)
	if back["max_retries"] != 0.0 || back["jitter"] != 0.0 || fmt.Sprint(back["retry_statuses"]) != "[]" ||
		back["deadline_ms"] != 500.0 {
		t.Fatalf("zeroes that mean something must cross: %s", out)
	}
	if err := json.Unmarshal([]byte(`{"retries": 3}`), &p); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Errorf("unknown key: %v", err)
	}
	for _, bad := range []wflo.RetryPolicy{{Jitter: new(2.0)}, {Multiplier: 0.5}, {BaseDelay: -time.Second},
		{RetryStatuses: []int{42}}, {BaseDelay: time.Minute, MaxDelay: time.Second}} {
		if _, err := e.Retrier(bad); !errors.Is(err, wflo.ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	// A sub-millisecond delay is not "the default": it rounds up to 1 ms.
	d := decisions(t, e, wflo.RetryPolicy{BaseDelay: time.Microsecond, Jitter: new(0.0)}, 1,
		wflo.Failure{Kind: wflo.FailureTimeout})[0]
	if d.Delay != time.Millisecond {
		t.Errorf("1µs: %v", d.Delay)
	}
}

// fast is a policy whose waits are a millisecond or two.
func fast(retries int) wflo.RetryPolicy {
	return wflo.RetryPolicy{MaxRetries: new(retries), BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
}

func TestRetryRunsAFlakyCallUntilItWorks(t *testing.T) {
	e := memoryEngine(t)
	var seen []int
	err := wflo.Retry(context.Background(), e, fast(3), func(ctx context.Context, attempt int) error {
		seen = append(seen, attempt)
		if wflo.RetrierFrom(ctx) == nil {
			t.Error("the attempt's context carries no retrier")
		}
		switch attempt {
		case 1:
			return &wflo.HTTPError{StatusCode: 503, Status: "503 Service Unavailable"}
		case 2:
			return &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
		return nil
	})
	if err != nil || fmt.Sprint(seen) != "[1 2 3]" {
		t.Fatalf("attempts %v, error %v", seen, err)
	}
}

// statusErr is a foreign error with a StatusCode method (an SDK's API error).
type statusErr int

func (s statusErr) Error() string   { return fmt.Sprintf("status %d", int(s)) }
func (s statusErr) StatusCode() int { return int(s) }

func TestRetryClassifiesErrors(t *testing.T) {
	e := memoryEngine(t)
	flaky := errors.New("the tool's own hiccup")
	for _, c := range []struct {
		err   error
		calls int
		opts  []wflo.RetryOption
	}{
		{statusErr(502), 2, nil},
		{fmt.Errorf("call: %w", statusErr(404)), 1, nil},
		{context.DeadlineExceeded, 2, nil},
		{io.ErrUnexpectedEOF, 2, nil},
		{flaky, 1, nil},
		{flaky, 2, []wflo.RetryOption{wflo.RetryTransient(func(err error) bool { return errors.Is(err, flaky) })}},
		{flaky, 2, []wflo.RetryOption{wflo.WithClassifier(func(err error) (wflo.Failure, bool) {
			return wflo.Failure{Kind: wflo.FailureHTTP, Status: 429}, true
		})}},
	} {
		calls := 0
		err := wflo.Retry(context.Background(), e, fast(1), func(context.Context, int) error {
			calls++
			return c.err
		}, c.opts...)
		if calls != c.calls || !errors.Is(err, c.err) {
			t.Errorf("%v: %d calls, want %d (%v)", c.err, calls, c.calls, err)
		}
	}
}

func TestRetryReturnsANonRetryableErrorAtOnce(t *testing.T) {
	e := memoryEngine(t)
	calls := 0
	bad := &wflo.HTTPError{StatusCode: 400, Status: "400 Bad Request"}
	err := wflo.Retry(context.Background(), e, fast(5), func(context.Context, int) error {
		calls++
		return bad
	})
	if calls != 1 || err != bad {
		t.Fatalf("%d calls: %v", calls, err)
	}
}

func TestRetryGivesUpWhenAttemptsRunOut(t *testing.T) {
	e := memoryEngine(t)
	calls := 0
	err := wflo.Retry(context.Background(), e, fast(2), func(context.Context, int) error {
		calls++
		return &wflo.HTTPError{StatusCode: 500, Status: "500 Internal Server Error"}
	})
	var re *wflo.RetryExhaustedError
	if calls != 3 || !errors.As(err, &re) || re.Attempts != 3 || re.Why != wflo.GiveUpExhausted ||
		!strings.Contains(err.Error(), "500 Internal Server Error; gave up after 3 attempts") {
		t.Fatalf("%d calls: %v", calls, err)
	}
}

func TestABudgetRefusalIsNeverRetried(t *testing.T) {
	e := memoryEngine(t)
	// A refusal raised by the attempt itself: returned as it is, after one call.
	calls := 0
	refusal := &wflo.BudgetExceededError{Message: "budget exceeded"}
	err := wflo.Retry(context.Background(), e, fast(3), func(context.Context, int) error {
		calls++
		return refusal
	})
	if calls != 1 || err != refusal {
		t.Fatalf("%d calls: %v", calls, err)
	}
	// A retry the budget cannot cover: the first attempt fails after its output was billed,
	// the retry's reservation is refused before it is sent and says so.
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "retry-refused", BudgetUSD: wflo.USD(0.0002)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	request := []byte(`{"model":"gpt-4o-mini","max_tokens":200,"messages":[{"role":"user","content":"Name three primes."}]}`)
	calls = 0
	err = wflo.Retry(context.Background(), e, fast(3), func(ctx context.Context, attempt int) error {
		calls++
		res, _, err := wflo.RetrierFrom(ctx).ReserveRequest(x, "openai_chat", request, nil)
		if err != nil {
			return err
		}
		defer res.Close()
		if _, err := res.SettleText(strings.Repeat("2, 3, 5, 7, 11, 13, ", 40), "error"); err != nil {
			t.Fatal(err)
		}
		return &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	})
	var be *wflo.BudgetExceededError
	if calls != 2 || !errors.As(err, &be) || !errors.Is(err, wflo.ErrBudgetExceeded) ||
		!strings.HasPrefix(be.RetryNote, "attempt 2 not sent: attempt 1 failed: read tcp") ||
		!strings.HasSuffix(be.Message, "("+be.RetryNote+")") {
		t.Fatalf("%d calls: %v (%+v)", calls, err, be)
	}
	if status, _ := x.End(err); status != "budget_exceeded" {
		t.Fatalf("ended %s", status)
	}
}

// refusal is a function that ends in one of wflo's refusals, and the sentinel it matches.
type refusal struct {
	sentinel error
	fn       func() error
}

// refusals are functions ending in each of wflo's four refusals, provoked for real: a budget of
// zero, an open breaker, a busy resource asked with timeout 0, a denied approval.
func refusals(t *testing.T, e *wflo.Engine, name string) []refusal {
	t.Helper()
	zero, err := e.StartExecution(wflo.ExecutionOptions{Name: name + "-zero", BudgetUSD: wflo.USD(0)})
	must(t, err)
	t.Cleanup(zero.Close)
	request := []byte(`{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"Hi."}]}`)
	tripped, err := e.Breaker(name+"-tripped", &wflo.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour})
	must(t, err)
	t.Cleanup(tripped.Close)
	must(t, tripped.RecordFailure())
	lock, err := e.Resource(name+"-lock", &wflo.LockConfig{MaxConcurrent: 1})
	must(t, err)
	t.Cleanup(lock.Close)
	held, err := lock.Acquire(context.Background(), name+"-holder", 0)
	must(t, err)
	t.Cleanup(func() { _ = held.Release() })
	gated, err := e.StartExecution(wflo.ExecutionOptions{Name: name + "-gated"})
	must(t, err)
	t.Cleanup(gated.Close)
	asked, err := gated.RequestApproval(wflo.ApprovalRequest{Gate: "publish"})
	must(t, err)
	_, err = e.Deny(asked.ID, "not today", "ops")
	must(t, err)
	return []refusal{
		{wflo.ErrBudgetExceeded, func() error {
			res, _, err := zero.ReserveRequest("openai_chat", request, nil)
			if err == nil {
				res.Close()
			}
			return err
		}},
		{wflo.ErrCircuitOpen, func() error { return tripped.Call(func() error { return nil }) }},
		{wflo.ErrResourceBusy, func() error {
			p, err := lock.Acquire(context.Background(), name+"-waiter", 0)
			if err == nil {
				_ = p.Release()
			}
			return err
		}},
		{wflo.ErrApprovalDenied, func() error {
			_, err := gated.WaitForApproval(context.Background(), asked.ID, 0)
			return err
		}},
	}
}

func TestIsRefusalIsTheEnginesRule(t *testing.T) {
	for _, err := range []error{&wflo.BudgetExceededError{}, &wflo.CircuitOpenError{}, &wflo.ResourceBusyError{},
		&wflo.ApprovalDeniedError{}, &wflo.Error{Code: wflo.CodeResourceBusy}, fmt.Errorf("step: %w", &wflo.ApprovalDeniedError{}),
		&wflo.ApprovalPendingError{}, &wflo.Error{Code: wflo.CodeApprovalPending},
		errors.Join(io.EOF, &wflo.ResourceBusyError{})} {
		if !wflo.IsRefusal(err) {
			t.Errorf("%#v is a refusal", err)
		}
	}
	for _, err := range []error{nil, io.EOF, &wflo.Error{Code: wflo.CodeInvalidArgument}, &wflo.UnknownModelError{},
		&wflo.Error{Code: wflo.CodeStorage}, &wflo.Error{Code: 0}, &wflo.Error{Code: 99}} {
		if wflo.IsRefusal(err) {
			t.Errorf("%#v is no refusal", err)
		}
	}
}

func TestABreakerRecordsNoRefusalAndEveryOtherError(t *testing.T) {
	e := memoryEngine(t)
	b, err := e.Breaker("guards-refusals", &wflo.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Hour})
	must(t, err)
	defer b.Close()
	figures := func() [4]uint64 {
		st, err := b.Status()
		must(t, err)
		return [4]uint64{uint64(st.FailureCount), uint64(st.SuccessCount), st.TotalCalls, st.TotalFailures}
	}
	before := figures()
	for _, r := range refusals(t, e, "breaker") {
		var returned error
		err := b.Call(func() error {
			returned = r.fn()
			return returned
		})
		if !errors.Is(err, r.sentinel) || err != returned {
			t.Fatalf("want %v as fn returned it, got %v", r.sentinel, err)
		}
		if got := figures(); got != before {
			t.Fatalf("%v was recorded: %v, before %v", r.sentinel, got, before)
		}
	}
	// A wflo error that is no refusal, and any other error, are failures of what was called.
	bad := &wflo.Error{Code: wflo.CodeInvalidArgument, Message: "bad"}
	if err := b.Call(func() error { return bad }); err != bad {
		t.Fatal(err)
	}
	if got := figures(); got != [4]uint64{1, 0, 1, 1} {
		t.Fatalf("an invalid argument is a failure: %v", got)
	}
	if err := b.Call(func() error { return io.ErrUnexpectedEOF }); err != io.ErrUnexpectedEOF {
		t.Fatal(err)
	}
	if stateOf(t, b) != wflo.BreakerOpen {
		t.Fatalf("two failures open a breaker of 2: %s", stateOf(t, b))
	}
	// Open: fn is not called.
	called := false
	if err := b.Call(func() error { called = true; return nil }); !errors.Is(err, wflo.ErrCircuitOpen) || called {
		t.Fatalf("an open breaker called fn (%v): %v", called, err)
	}
	// A success is recorded as one.
	must(t, b.Reset())
	reset := figures()
	must(t, b.Call(func() error { return nil }))
	if got := figures(); got[2] != reset[2]+1 || got[3] != reset[3] {
		t.Fatalf("a success: %v, before %v", got, reset)
	}
}

func TestRetryReturnsEveryRefusalAtOnce(t *testing.T) {
	e := memoryEngine(t)
	for _, r := range refusals(t, e, "retry") {
		calls := 0
		var returned error
		err := wflo.Retry(context.Background(), e, fast(3), func(context.Context, int) error {
			calls++
			returned = r.fn()
			return returned
		}, wflo.RetryTransient(func(error) bool { return true }))
		if calls != 1 || err != returned || !errors.Is(err, r.sentinel) {
			t.Fatalf("%v: %d calls, %v", r.sentinel, calls, err)
		}
	}
}

func TestCancellingTheContextStopsTheWait(t *testing.T) {
	e := memoryEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	calls := 0
	err := wflo.Retry(ctx, e, wflo.RetryPolicy{BaseDelay: time.Minute, MaxDelay: time.Minute},
		func(context.Context, int) error {
			calls++
			return &wflo.HTTPError{StatusCode: 503}
		})
	var he *wflo.HTTPError
	if calls != 1 || !errors.Is(err, context.Canceled) || !errors.As(err, &he) || time.Since(start) > 5*time.Second {
		t.Fatalf("%d calls after %v: %v", calls, time.Since(start), err)
	}
}

func TestABreakerOpensFailsFastAndRecovers(t *testing.T) {
	e := memoryEngine(t)
	cfg := &wflo.BreakerConfig{FailureThreshold: 3, RecoveryTimeout: 150 * time.Millisecond, SuccessThreshold: 1}
	b, err := e.Breaker("provider:openai", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for range 2 {
		if err := b.Check(); err != nil {
			t.Fatal(err)
		}
		must(t, b.RecordFailure())
	}
	if stateOf(t, b) != wflo.BreakerClosed {
		t.Fatalf("opened before its threshold: %s", stateOf(t, b))
	}
	must(t, b.RecordFailure())
	err = b.Check()
	var open *wflo.CircuitOpenError
	if !errors.As(err, &open) || !errors.Is(err, wflo.ErrCircuitOpen) || open.Name != "provider:openai" ||
		open.Failures != 3 || open.RetryIn <= 0 || open.RetryIn > 150*time.Millisecond ||
		!strings.Contains(err.Error(), "circuit breaker 'provider:openai' is open") {
		t.Fatalf("want a CircuitOpenError: %#v", err)
	}
	// One breaker per name: another handle sees the same state, whatever config it passes.
	same, err := e.Breaker("provider:openai", &wflo.BreakerConfig{FailureThreshold: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := same.Check(); !errors.Is(err, wflo.ErrCircuitOpen) {
		t.Fatalf("the same name must be the same breaker: %v", err)
	}
	st, err := b.Status()
	if err != nil || st.State != wflo.BreakerOpen || st.Rejected != 2 || st.RetryInMS == nil ||
		len(st.Transitions) != 1 || st.Transitions[0].To != wflo.BreakerOpen {
		t.Fatalf("status %+v %v", st, err)
	}
	// An open breaker refuses Retry's attempts before they are made, never retried.
	calls := 0
	err = wflo.Retry(context.Background(), e, fast(3), func(context.Context, int) error {
		calls++
		return same.Check()
	})
	if calls != 1 || !errors.As(err, &open) {
		t.Fatalf("%d calls: %v", calls, err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := b.Check(); err != nil {
		t.Fatalf("after the recovery timeout a trial call goes through: %v", err)
	}
	if stateOf(t, b) != wflo.BreakerHalfOpen {
		t.Fatalf("state %s", stateOf(t, b))
	}
	must(t, b.RecordSuccess())
	if stateOf(t, b) != wflo.BreakerClosed || stateOf(t, same) != wflo.BreakerClosed {
		t.Fatalf("a successful trial closes it: %s", stateOf(t, b))
	}
	other, err := e.Breaker("tool:search", nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // the default threshold
		must(t, other.RecordFailure())
	}
	if stateOf(t, other) != wflo.BreakerOpen || stateOf(t, b) != wflo.BreakerClosed {
		t.Fatalf("breakers are per name: %s %s", stateOf(t, other), stateOf(t, b))
	}
	must(t, other.Reset())
	all, err := e.Breakers()
	if err != nil || len(all) != 2 || all[0].Name != "provider:openai" || all[1].Name != "tool:search" ||
		all[1].State != wflo.BreakerClosed {
		t.Fatalf("breakers %+v %v", all, err)
	}
	if _, err := e.Breaker("", nil); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("empty name: %v", err)
	}
	other.Close()
	if err := other.Check(); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("closed handle: %v", err)
	}
	if _, err := other.State(); !errors.Is(err, wflo.ErrClosed) ||
		!errors.Is(other.RecordFailure(), wflo.ErrClosed) || !errors.Is(other.Reset(), wflo.ErrClosed) {
		t.Fatalf("a closed handle's outcome and state are ErrClosed: %v", err)
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stateOf is b's state now, failing the test on an error.
func stateOf(t *testing.T, b *wflo.Breaker) wflo.BreakerState {
	t.Helper()
	state, err := b.State()
	must(t, err)
	return state
}

func TestASharedBreakerIsOneBreakerForEveryEngineOnTheStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "breakers.db")
	open := func() *wflo.Engine {
		e, err := wflo.Open(db)
		must(t, err)
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	a, b := open(), open()
	cfg := &wflo.BreakerConfig{FailureThreshold: 2, RecoveryTimeout: time.Hour, SuccessThreshold: 1, Shared: true}
	viaA, err := a.Breaker("provider:openai", cfg)
	must(t, err)
	defer viaA.Close()
	viaB, err := b.Breaker("provider:openai", cfg)
	must(t, err)
	defer viaB.Close()
	// One failure through each engine: together they reach the threshold.
	must(t, viaA.Check())
	must(t, viaA.RecordFailure())
	if st := stateOf(t, viaB); st != wflo.BreakerClosed {
		t.Fatalf("one failure of two opened it: %s", st)
	}
	must(t, viaB.Check())
	must(t, viaB.RecordFailure())
	for _, via := range []*wflo.Breaker{viaA, viaB} {
		err := via.Check()
		var open *wflo.CircuitOpenError
		if !errors.As(err, &open) || !errors.Is(err, wflo.ErrCircuitOpen) || open.Name != "provider:openai" ||
			open.Failures != 2 || open.RetryIn <= 0 || open.RetryIn > time.Hour {
			t.Fatalf("both engines fail fast: %#v", err)
		}
		if st := stateOf(t, via); st != wflo.BreakerOpen {
			t.Fatalf("state %s", st)
		}
	}
	// The other engine reads it from the store: open, opened once, by the second failure.
	on, err := b.BreakersOnStore("", 50)
	must(t, err)
	if len(on.Shared) != 1 || on.Shared[0].Name != "provider:openai" || !on.Shared[0].Shared ||
		on.Shared[0].State != wflo.BreakerOpen || on.Shared[0].FailureCount != 2 || on.Shared[0].Rejected != 2 {
		t.Fatalf("shared %+v", on.Shared)
	}
	if len(on.Transitions) != 1 {
		t.Fatalf("transitions %+v", on.Transitions)
	}
	if tr := on.Transitions[0]; tr.Breaker != "provider:openai" || !tr.Shared || tr.From != wflo.BreakerClosed ||
		tr.To != wflo.BreakerOpen || tr.Reason != "2 consecutive failures" || tr.AtMS == 0 || !strings.Contains(tr.Holder, ":") {
		t.Fatalf("transition %+v", tr)
	}
	if st, err := viaA.Status(); err != nil || !st.Shared || st.State != wflo.BreakerOpen {
		t.Fatalf("status %+v %v", st, err)
	}
	// A reset through one engine closes it for the other.
	must(t, viaB.Reset())
	if st := stateOf(t, viaA); st != wflo.BreakerClosed {
		t.Fatalf("reset through b, a reads %s", st)
	}
	must(t, viaA.Check())
	on, err = a.BreakersOnStore("provider:openai", 50)
	must(t, err)
	if len(on.Shared) != 1 || on.Shared[0].State != wflo.BreakerClosed || len(on.Transitions) != 2 ||
		on.Transitions[1].From != wflo.BreakerOpen || on.Transitions[1].To != wflo.BreakerClosed || on.Transitions[1].Reason != "reset" {
		t.Fatalf("after the reset %+v", on)
	}
	// A breaker of one engine: its change of state is recorded in the store, its state is not.
	own, err := a.Breaker("tool:search", &wflo.BreakerConfig{FailureThreshold: 1})
	must(t, err)
	defer own.Close()
	must(t, own.RecordFailure())
	ownB, err := b.Breaker("tool:search", &wflo.BreakerConfig{FailureThreshold: 1})
	must(t, err)
	defer ownB.Close()
	if stateOf(t, own) != wflo.BreakerOpen || stateOf(t, ownB) != wflo.BreakerClosed {
		t.Fatalf("not shared: each engine has its own: %s %s", stateOf(t, own), stateOf(t, ownB))
	}
	on, err = b.BreakersOnStore("", 50)
	must(t, err)
	if len(on.Shared) != 1 || on.Shared[0].Name != "provider:openai" {
		t.Fatalf("only shared breakers have their state in the store: %+v", on.Shared)
	}
	var mine []wflo.BreakerTransition
	for _, tr := range on.Transitions {
		if tr.Breaker == "tool:search" {
			mine = append(mine, tr)
		}
	}
	if len(mine) != 1 || mine[0].Shared || mine[0].To != wflo.BreakerOpen || mine[0].Reason != "1 consecutive failures" {
		t.Fatalf("the unshared breaker's change %+v", mine)
	}
	if on, err := b.BreakersOnStore("", 1); err != nil || len(on.Transitions) != 1 || on.Transitions[0].Breaker != "tool:search" {
		t.Fatalf("the latest limit changes: %+v %v", on, err)
	}
	if on, err := b.BreakersOnStore("nobody", 50); err != nil || len(on.Shared) != 0 || len(on.Transitions) != 0 {
		t.Fatalf("no such breaker: %+v %v", on, err)
	}
	if _, err := b.BreakersOnStore("", -1); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("negative limit: %v", err)
	}
	// The settings convert to and from the engine's JSON, shared included.
	text, err := json.Marshal(cfg)
	must(t, err)
	var back wflo.BreakerConfig
	if err := json.Unmarshal(text, &back); err != nil || back != *cfg || !strings.Contains(string(text), `"shared":true`) {
		t.Fatalf("%s -> %+v %v", text, back, err)
	}
}

func TestASharedBreakerOfAClosedEngineReturnsErrors(t *testing.T) {
	e, err := wflo.Open(filepath.Join(t.TempDir(), "closed.db"))
	must(t, err)
	b, err := e.Breaker("provider:closed", &wflo.BreakerConfig{Shared: true})
	must(t, err)
	defer b.Close()
	must(t, b.RecordFailure())
	must(t, e.Close())
	_, stateErr := b.State()
	_, onErr := e.BreakersOnStore("", 50)
	for i, err := range []error{stateErr, b.RecordFailure(), b.RecordSuccess(), b.Reset(), b.Check(), onErr} {
		var werr *wflo.Error
		if err == nil || (!errors.As(err, &werr) && !errors.Is(err, wflo.ErrClosed)) {
			t.Fatalf("step %d: want a wflo error, got %#v", i, err)
		}
	}
}

// flakyProvider answers fail errors with status (and a Retry-After-Ms header), then results.
type flakyProvider struct {
	fail, status, calls int
}

func (f *flakyProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	_, _ = io.ReadAll(req.Body)
	f.calls++
	if f.calls <= f.fail {
		return &http.Response{StatusCode: f.status, Status: fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)),
			Header: http.Header{"Retry-After-Ms": {"3"}}, Body: io.NopCloser(strings.NewReader(`{"error":{}}`)),
			Request: req}, nil
	}
	answer := `{"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"2, 3, 5"}}],` +
		`"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}`
	return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(answer)), Request: req}, nil
}

func TestTheMiddlewareRetriesRetryableAnswers(t *testing.T) {
	e := memoryEngine(t)
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "middleware-retries", BudgetUSD: wflo.USD(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := wflo.WithExecution(context.Background(), x)
	send := func(p *flakyProvider) *http.Response {
		hc := &http.Client{Transport: wflo.Transport(p, wflo.WithRetries(fast(3)))}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "https://api.openai.com/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Name three primes."}]}`))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	if resp := send(&flakyProvider{fail: 2, status: 503}); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp := send(&flakyProvider{fail: 9, status: 400}); resp.StatusCode != 400 {
		t.Fatalf("a 400 is the answer: %d", resp.StatusCode)
	}
	var statuses []string
	calls := balanced(t, x)
	for _, c := range calls {
		statuses = append(statuses, c.Status)
	}
	if fmt.Sprint(statuses) != "[error error ok error]" {
		t.Fatalf("each attempt is reserved and recorded: %v", statuses)
	}
	// Each retry is recorded as its attempt, with the engine's reason for it.
	if calls[1].Attempt != 2 || calls[2].Attempt != 3 || calls[3].Attempt != 1 || calls[2].RetryReason == nil ||
		!strings.Contains(*calls[2].RetryReason, "503 Service Unavailable; retry 2") {
		t.Fatalf("attempts %+v", calls)
	}
}

func TestTheMiddlewareRetriesAgainstTheMock(t *testing.T) {
	_, x, ctx := execution(t, 1)
	hc := &http.Client{Transport: wflo.Transport(nil, wflo.WithRetries(fast(3)))}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		mockURL+"/mock/fail=2,status=429,retry_after_ms=2,key=go-middleware-retries/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Name three primes."}]}`))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	var statuses []string
	for _, c := range balanced(t, x) {
		statuses = append(statuses, c.Status)
	}
	if resp.StatusCode != 200 || fmt.Sprint(statuses) != "[error error ok]" {
		t.Fatalf("status %d, calls %v", resp.StatusCode, statuses)
	}
}
