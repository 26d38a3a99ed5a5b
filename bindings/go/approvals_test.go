package wflo_test

// Approval gates through the Go API: a workflow waiting at a gate goes on once the real
// `wflo approve` CLI approves it, a denial is a typed error with who and why, an unanswered
// gate times out by its rule, and the same gate asked twice is one approval.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

// wfloBin is the wflo CLI: $WFLO_BIN (the Makefile exports it), else the debug build under
// $CARGO_TARGET_DIR or the repository's target folder.
func wfloBin(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("WFLO_BIN")}
	if dir := os.Getenv("CARGO_TARGET_DIR"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "debug", "wflo"))
	}
	candidates = append(candidates, filepath.Join("..", "..", "target", "debug", "wflo"))
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if info, err := os.Stat(c); err == nil && !info.IsDir() {
			return c
		}
	}
	t.Skip("no wflo CLI: set WFLO_BIN (make test-go does)")
	return ""
}

func startExecution(t *testing.T, e *wflo.Engine, name string) *wflo.Execution {
	t.Helper()
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(x.Close)
	return x
}

func TestApprovedByTheCLILetsTheWorkflowGoOn(t *testing.T) {
	bin := wfloBin(t)
	db := filepath.Join(t.TempDir(), "approvals.db")
	e, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x := startExecution(t, e, "publisher")
	asked, err := x.RequestApproval(wflo.ApprovalRequest{Gate: "publish", Why: "emails customers",
		WorstCaseUSD: "0.25", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if asked.Status != wflo.ApprovalPending || asked.What != "run publish" || asked.WorstCaseNanos == nil ||
		*asked.WorstCaseNanos != 250_000_000 || asked.ExecutionID != x.ID() || asked.ExpiresAtMS == nil {
		t.Fatalf("asked: %+v", asked)
	}
	type outcome struct {
		a   wflo.Approval
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		a, err := x.RequireApproval(context.Background(), wflo.ApprovalRequest{Gate: "publish"})
		done <- outcome{a, err}
	}()
	select {
	case o := <-done:
		t.Fatalf("went on before anyone decided: %+v %v", o.a, o.err)
	case <-time.After(50 * time.Millisecond):
	}
	out, err := exec.Command(bin, "approve", asked.ID, "--db", db, "--by", "ana", "--note", "checked the copy").CombinedOutput()
	if err != nil {
		t.Fatalf("wflo approve: %v\n%s", err, out)
	}
	select {
	case o := <-done:
		if o.err != nil || o.a.ID != asked.ID || o.a.Status != wflo.ApprovalApproved || o.a.DecidedBy == nil ||
			*o.a.DecidedBy != "ana" || o.a.Note == nil || *o.a.Note != "checked the copy" || o.a.DecidedAtMS == nil {
			t.Fatalf("approved: %+v %v", o.a, o.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting after the CLI approved")
	}
	if pending, err := e.Approvals(true); err != nil || len(pending) != 0 {
		t.Fatalf("pending after the decision: %+v %v", pending, err)
	}
	if all, err := e.Approvals(false); err != nil || len(all) != 1 || all[0].Status != wflo.ApprovalApproved {
		t.Fatalf("all: %+v %v", all, err)
	}
}

func TestDenialIsATypedError(t *testing.T) {
	e := memoryEngine(t)
	x := startExecution(t, e, "cleaner")
	asked, err := x.RequestApproval(wflo.ApprovalRequest{Gate: "delete-index", Why: "drops the search index"})
	if err != nil {
		t.Fatal(err)
	}
	if pending, err := e.Approvals(true); err != nil || len(pending) != 1 || pending[0].ID != asked.ID {
		t.Fatalf("pending: %+v %v", pending, err)
	}
	denied, err := e.Deny(asked.ID, "not on a Friday", "bo")
	if err != nil || denied.Status != wflo.ApprovalDenied {
		t.Fatalf("deny: %+v %v", denied, err)
	}
	if _, err := e.Approve(asked.ID, "", ""); !errors.Is(err, wflo.ErrConflict) {
		t.Fatalf("deciding twice: %v", err)
	}
	if _, err := e.Approve("appr-nosuchthing", "", ""); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("an unknown id: %v", err)
	}
	_, err = x.WaitForApproval(context.Background(), asked.ID, 0)
	var d *wflo.ApprovalDeniedError
	if !errors.As(err, &d) || !errors.Is(err, wflo.ErrApprovalDenied) {
		t.Fatalf("want an ApprovalDeniedError: %#v", err)
	}
	if d.ID != asked.ID || d.Gate != "delete-index" || d.TimedOut || d.By != "bo" || d.Note != "not on a Friday" {
		t.Fatalf("denied: %+v", d)
	}
	if status, err := x.End(err); err != nil || status != "failed" {
		t.Fatalf("an execution ended by APPROVAL_DENIED: %q %v", status, err)
	}
}

func TestUnansweredGateTimesOutByItsRule(t *testing.T) {
	e := memoryEngine(t)
	x := startExecution(t, e, "waiter")
	start := time.Now()
	_, err := x.RequireApproval(context.Background(), wflo.ApprovalRequest{Gate: "deploy", Timeout: 100 * time.Millisecond})
	var d *wflo.ApprovalDeniedError
	if !errors.As(err, &d) || !d.TimedOut || d.Gate != "deploy" || d.By != "timeout" || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("want a timed-out denial: %#v after %v", err, time.Since(start))
	}
	a, err := x.RequireApproval(context.Background(), wflo.ApprovalRequest{Gate: "tidy", Timeout: 50 * time.Millisecond,
		OnTimeout: wflo.OnTimeoutApprove})
	if err != nil || a.Status != wflo.ApprovalExpired || a.OnTimeout != wflo.OnTimeoutApprove {
		t.Fatalf("an approve-on-timeout gate goes on: %+v %v", a, err)
	}
}

func TestSameGateTwiceIsOneApproval(t *testing.T) {
	e := memoryEngine(t)
	x := startExecution(t, e, "restarted")
	first, err := x.RequestApproval(wflo.ApprovalRequest{Gate: "publish", Why: "once"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := x.RequestApproval(wflo.ApprovalRequest{Gate: "publish", Why: "twice"})
	if err != nil || again.ID != first.ID || again.Why != "once" {
		t.Fatalf("the same gate asked again: %+v %v (first %+v)", again, err, first)
	}
	other := startExecution(t, e, "other")
	elsewhere, err := other.RequestApproval(wflo.ApprovalRequest{Gate: "publish"})
	if err != nil || elsewhere.ID == first.ID {
		t.Fatalf("another execution's gate is its own: %+v %v", elsewhere, err)
	}
	// Waiting with no wait left only looks; a context that ends stops the wait.
	a, err := x.WaitForApproval(context.Background(), first.ID, 0)
	if err != nil || a.Status != wflo.ApprovalPending {
		t.Fatalf("a look at a pending approval: %+v %v", a, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	a, err = x.WaitForApproval(ctx, first.ID, -1)
	if !errors.Is(err, context.DeadlineExceeded) || a.Status != wflo.ApprovalPending {
		t.Fatalf("a deadline stops the wait: %+v %v", a, err)
	}
	a, err = x.WaitForApproval(context.Background(), first.ID, 20*time.Millisecond)
	if err != nil || a.Status != wflo.ApprovalPending {
		t.Fatalf("a short wait on a pending approval: %+v %v", a, err)
	}
	if _, err := e.Approve(first.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	if a, err := x.RequireApproval(context.Background(), wflo.ApprovalRequest{Gate: "publish"}); err != nil ||
		a.ID != first.ID || a.Status != wflo.ApprovalApproved || a.DecidedBy == nil || *a.DecidedBy == "" {
		t.Fatalf("the restarted workflow finds the decision: %+v %v", a, err)
	}
}

func TestApprovalRequestJSONAndBadArguments(t *testing.T) {
	text, err := json.Marshal(wflo.ApprovalRequest{Gate: "g", WorstCaseUSD: "1.5", Timeout: time.Second,
		OnTimeout: wflo.OnTimeoutApprove})
	if err != nil || string(text) != `{"gate":"g","worst_case_nanos":1500000000,"timeout_ms":1000,"on_timeout":"approve"}` {
		t.Fatalf("marshal: %s %v", text, err)
	}
	var r wflo.ApprovalRequest
	if err := json.Unmarshal([]byte(`{"gate": "g", "worst_case_nanos": 7, "requested_by": "bot"}`), &r); err != nil ||
		r != (wflo.ApprovalRequest{Gate: "g", WorstCaseNanos: 7, RequestedBy: "bot"}) {
		t.Fatalf("unmarshal: %+v %v", r, err)
	}
	e := memoryEngine(t)
	x := startExecution(t, e, "bad")
	for _, bad := range []wflo.ApprovalRequest{{}, {Gate: "g", WorstCaseUSD: "1", WorstCaseNanos: 1},
		{Gate: "g", WorstCaseUSD: "a lot"}, {Gate: "g", Timeout: -time.Second}, {Gate: "g", OnTimeout: "shrug"}} {
		if _, err := x.RequestApproval(bad); !errors.Is(err, wflo.ErrInvalidArgument) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// pendingGate polls the store until execution id has a pending approval, and returns it.
func pendingGate(t *testing.T, e *wflo.Engine, id string) wflo.Approval {
	t.Helper()
	for range 400 {
		all, err := e.Approvals(true)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range all {
			if a.ExecutionID == id {
				return a
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no pending approval appeared")
	return wflo.Approval{}
}

func TestApprovalThresholdBlocksCostlyCallsUntilDecided(t *testing.T) {
	db := filepath.Join(t.TempDir(), "threshold.db")
	e, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "gated", BudgetUSD: wflo.USD(1),
		ApprovalAboveUSD: wflo.USD(0.001)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	big := wflo.CallRequest{Model: "gpt-4o", InputTokens: 1000, MaxOutputTokens: 4000} // up to ~$0.04
	type outcome struct {
		r   *wflo.Reservation
		err error
	}
	reserve := func() chan outcome {
		done := make(chan outcome, 1)
		go func() {
			r, err := x.Reserve(big)
			done <- outcome{r, err}
		}()
		return done
	}

	// Gate 1: the reserving goroutine blocks until another one approves.
	done := reserve()
	gate := pendingGate(t, e, x.ID())
	if gate.Gate != "call #1 over $0.001" || gate.WorstCaseNanos == nil || *gate.WorstCaseNanos < 1_000_000 {
		t.Fatalf("gate 1: %+v", gate)
	}
	if a, err := e.Approval(gate.ID); err != nil || a.Status != wflo.ApprovalPending {
		t.Fatalf("Approval(%s): %+v %v", gate.ID, a, err)
	}
	select {
	case o := <-done:
		t.Fatalf("reserved before anyone decided: %v", o.err)
	case <-time.After(50 * time.Millisecond):
	}
	if b, _ := x.Breakdown(); b.ReservedNanos != 0 {
		t.Fatalf("reserved while pending: %d", b.ReservedNanos)
	}
	go func() { _, _ = e.Approve(gate.ID, "fine", "ana") }()
	o := <-done
	if o.err != nil || o.r.AmountNanos() < 1_000_000 {
		t.Fatalf("approved gate: %v", o.err)
	}
	if _, err := o.r.Settle(wflo.Usage{Input: 1000, Output: 10}); err != nil {
		t.Fatal(err)
	}
	o.r.Close()

	// A cheap call meets no gate.
	small, err := x.Reserve(wflo.CallRequest{Model: "gpt-4o-mini", InputTokens: 10, MaxOutputTokens: 20})
	if err != nil {
		t.Fatalf("a cheap call: %v", err)
	}
	if _, err := small.Settle(wflo.Usage{Input: 10, Output: 2}); err != nil {
		t.Fatal(err)
	}
	small.Close()

	// Gate 2: denied, the blocked reservation is a typed refusal and nothing is reserved.
	done = reserve()
	gate = pendingGate(t, e, x.ID())
	if gate.Gate != "call #2 over $0.001" {
		t.Fatalf("gate 2: %+v", gate)
	}
	go func() { _, _ = e.Deny(gate.ID, "too big", "bo") }()
	o = <-done
	var denied *wflo.ApprovalDeniedError
	if !errors.As(o.err, &denied) || !errors.Is(o.err, wflo.ErrApprovalDenied) || denied.ID != gate.ID ||
		denied.By != "bo" || denied.Note != "too big" || !wflo.IsRefusal(o.err) {
		t.Fatalf("denied gate: %#v", o.err)
	}
	calls, err := x.Calls()
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0].RequestedModel != "gpt-4o" || calls[1].RequestedModel != "gpt-4o-mini" {
		t.Fatalf("calls: %+v", calls)
	}
	if b, _ := x.Breakdown(); b.ReservedNanos != 0 {
		t.Fatalf("reserved after a denial: %d", b.ReservedNanos)
	}
	all, err := e.Approvals(false)
	if err != nil || len(all) != 2 {
		t.Fatalf("approvals: %d %v", len(all), err)
	}
}

func TestApprovalWaitReturnPendingGivesTheIDAtOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pending.db")
	e, err := wflo.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.SetApprovalWait(true); err != nil {
		t.Fatal(err)
	}
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: "returns", ApprovalAboveUSD: wflo.USD(0.001)})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	big := wflo.CallRequest{Model: "gpt-4o", InputTokens: 1000, MaxOutputTokens: 4000}
	started := time.Now()
	_, err = x.Reserve(big)
	var pending *wflo.ApprovalPendingError
	if !errors.As(err, &pending) || !errors.Is(err, wflo.ErrApprovalPending) || !wflo.IsRefusal(err) {
		t.Fatalf("want *ApprovalPendingError, got %#v", err)
	}
	if time.Since(started) > 5*time.Second || pending.Gate != "call #1 over $0.001" || pending.ID == "" ||
		pending.What == "" {
		t.Fatalf("pending: %+v", pending)
	}
	if a, err := e.Approval(pending.ID); err != nil || a.Status != wflo.ApprovalPending || a.ExecutionID != x.ID() {
		t.Fatalf("Approval: %+v %v", a, err)
	}
	// Asked again before anyone decided: the same approval.
	if _, err := x.Reserve(big); !errors.As(err, &pending) || pending.Gate != "call #1 over $0.001" {
		t.Fatalf("again: %v", err)
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = e.Approve(pending.ID, "", "ana")
	}()
	a, err := x.WaitForApproval(context.Background(), pending.ID, -1)
	if err != nil || a.Status != wflo.ApprovalApproved {
		t.Fatalf("wait: %+v %v", a, err)
	}
	r, err := x.Reserve(big)
	if err != nil {
		t.Fatalf("reserving again after the approval: %v", err)
	}
	if err := r.Release("aborted", ""); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := e.Approval("appr-000000000000"); !errors.Is(err, wflo.ErrNotFound) {
		t.Fatalf("an unknown approval: %v", err)
	}
}
