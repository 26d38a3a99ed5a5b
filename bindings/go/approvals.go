package wflo

// Approval gates: an execution asks a person before a named step and waits for the decision.
// The pending approval lives in the engine's store, so `wflo approve ID` (or another process,
// or Engine.Approve) decides it; the rules — one approval per gate of an execution, decided
// once, what a timeout means — are the engine's (libwflo's approval module). This file
// converts Go values to and from them and lets a context.Context bound the wait.

/*
#include "wflo.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// OnTimeout is what an approval nobody decided in time means.
type OnTimeout string

// The timeout rules (ApprovalRequest.OnTimeout).
const (
	// OnTimeoutDeny: an unanswered approval is denied (*ApprovalDeniedError with TimedOut).
	OnTimeoutDeny OnTimeout = "deny"
	// OnTimeoutApprove: an unanswered approval lets the workflow go on.
	OnTimeoutApprove OnTimeout = "approve"
)

// ApprovalStatus is where an approval is.
type ApprovalStatus string

// The approval statuses (Approval.Status).
const (
	ApprovalPending  ApprovalStatus = "pending"
	ApprovalApproved ApprovalStatus = "approved"
	ApprovalDenied   ApprovalStatus = "denied"
	// ApprovalExpired: nobody decided in time; the approval's OnTimeout rule applied.
	ApprovalExpired ApprovalStatus = "expired"
)

// ApprovalRequest asks a person to approve a gate of an execution. Only Gate is required. It
// converts to and from the engine's JSON (json.Marshal, json.Unmarshal: "gate", "what", "why",
// "worst_case_nanos", "requested_by", "timeout_ms", "on_timeout").
type ApprovalRequest struct {
	// Gate names the step within the execution (1 to 200 bytes): asking again for the same
	// gate — a restarted workflow — finds the same approval, decided or not.
	Gate string
	// What happens once approved ("": "run <Gate>").
	What string
	// Why it needs a person.
	Why string
	// WorstCaseUSD is the worst case of the spend behind the gate as decimal dollars
	// ("0.25"), parsed by the engine ("": none). Give it or WorstCaseNanos, not both.
	WorstCaseUSD string
	// WorstCaseNanos is the same worst case in nano-USD (0: none).
	WorstCaseNanos uint64
	// RequestedBy says who asks ("": this process, "host:pid").
	RequestedBy string
	// Timeout is how long a decision may take, from the first time the gate was asked (0: one
	// hour; whole milliseconds, rounded up).
	Timeout time.Duration
	// OnTimeout is what an unanswered approval means ("": OnTimeoutDeny).
	OnTimeout OnTimeout
}

// requestJSON is ApprovalRequest as the engine reads it; absent keys keep its defaults.
type requestJSON struct {
	Gate           string    `json:"gate"`
	What           string    `json:"what,omitempty"`
	Why            string    `json:"why,omitempty"`
	WorstCaseNanos *uint64   `json:"worst_case_nanos,omitempty"`
	RequestedBy    *string   `json:"requested_by,omitempty"`
	TimeoutMS      *uint64   `json:"timeout_ms,omitempty"`
	OnTimeout      OnTimeout `json:"on_timeout,omitempty"`
}

// MarshalJSON writes the request as the engine's JSON. WorstCaseUSD is parsed by the engine
// (ParseUSD); a malformed amount, both worst cases given, or a negative Timeout is
// ErrInvalidArgument.
func (r ApprovalRequest) MarshalJSON() ([]byte, error) {
	j := requestJSON{Gate: r.Gate, What: r.What, Why: r.Why, OnTimeout: r.OnTimeout}
	switch {
	case r.WorstCaseUSD != "" && r.WorstCaseNanos != 0:
		return nil, invalid("invalid argument: approval request: give WorstCaseUSD or WorstCaseNanos, not both")
	case r.WorstCaseUSD != "":
		n, err := ParseUSD(r.WorstCaseUSD)
		if err != nil {
			return nil, err
		}
		j.WorstCaseNanos = &n
	case r.WorstCaseNanos != 0:
		j.WorstCaseNanos = &r.WorstCaseNanos
	}
	if r.RequestedBy != "" {
		j.RequestedBy = &r.RequestedBy
	}
	if r.Timeout < 0 {
		return nil, invalid("invalid argument: approval request: Timeout is negative (%v)", r.Timeout)
	}
	if r.Timeout > 0 {
		ms := uint64(ceilMillis(r.Timeout))
		j.TimeoutMS = &ms
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the engine's JSON ({"gate": "publish", "why": "…", "timeout_ms":
// 60000}); unknown keys are ErrInvalidArgument. The worst case is read as WorstCaseNanos.
func (r *ApprovalRequest) UnmarshalJSON(data []byte) error {
	var j requestJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return invalid("invalid argument: approval request: %v", err)
	}
	*r = ApprovalRequest{Gate: j.Gate, What: j.What, Why: j.Why, RequestedBy: deref(j.RequestedBy), OnTimeout: j.OnTimeout}
	if j.WorstCaseNanos != nil {
		r.WorstCaseNanos = *j.WorstCaseNanos
	}
	if j.TimeoutMS != nil {
		r.Timeout = time.Duration(*j.TimeoutMS) * time.Millisecond
	}
	return nil
}

// Approval is an approval gate's record as the engine stores it: what needs a decision, why,
// and the decision. Times are Unix milliseconds.
type Approval struct {
	ID          string `json:"id"`
	ExecutionID string `json:"execution_id"`
	Gate        string `json:"gate"`
	// What will happen once approved.
	What string `json:"what"`
	Why  string `json:"why"`
	// WorstCaseNanos is the worst case of the spend behind the gate, when known.
	WorstCaseNanos *uint64        `json:"worst_case_nanos"`
	RequestedBy    string         `json:"requested_by"`
	OnTimeout      OnTimeout      `json:"on_timeout"`
	Status         ApprovalStatus `json:"status"`
	Note           *string        `json:"note"`
	// DecidedBy is who decided ("timeout" when it expired).
	DecidedBy   *string `json:"decided_by"`
	CreatedAtMS uint64  `json:"created_at_ms"`
	ExpiresAtMS *uint64 `json:"expires_at_ms"`
	DecidedAtMS *uint64 `json:"decided_at_ms"`
}

// RequestApproval records a pending approval for req.Gate, or returns the one this execution
// already has for that gate (decided or not), without waiting. Approved spend still goes
// through the budget: approval only opens the gate.
func (x *Execution) RequestApproval(req ApprovalRequest) (Approval, error) {
	text, err := json.Marshal(req)
	if err != nil {
		return Approval{}, err
	}
	var out *C.char
	p, n := cbytes(text)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return C.wflo_execution_request_approval(h, p, n, &out)
	}); err != nil {
		return Approval{}, err
	}
	var a Approval
	return a, takeJSON(out, &a)
}

// approvalSlice is the longest single wait of WaitForApproval under a context that can end:
// the context is looked at between waits.
const approvalSlice = 500 * time.Millisecond

// WaitForApproval waits for approval id to be decided, at most wait (negative: until it is
// decided or its timeout passes; 0: only look). Approved — or expired under OnTimeoutApprove
// — it returns the approval; denied, or expired under OnTimeoutDeny, a *ApprovalDeniedError
// (errors.Is(err, ErrApprovalDenied)); still pending when wait ran out, the pending approval
// and no error (ask again later). When ctx ends first it returns the pending approval and
// ctx.Err(), within half a second.
func (x *Execution) WaitForApproval(ctx context.Context, id string, wait time.Duration) (Approval, error) {
	if err := ctx.Err(); err != nil {
		return Approval{}, err
	}
	start := time.Now()
	for {
		ms := int64(-1)
		if wait >= 0 {
			ms = max(ceilMillis(wait-time.Since(start)), 0)
		}
		if ctx.Done() != nil && (ms < 0 || ms > approvalSlice.Milliseconds()) {
			ms = approvalSlice.Milliseconds()
		}
		if deadline, ok := ctx.Deadline(); ok {
			if left := max(ceilMillis(time.Until(deadline)), 0); ms < 0 || left < ms {
				ms = left
			}
		}
		a, err := x.waitOnce(id, ms)
		if err != nil || a.Status != ApprovalPending {
			return a, err
		}
		if err := ctx.Err(); err != nil {
			return a, err
		}
		if wait >= 0 && time.Since(start) >= wait {
			return a, nil
		}
	}
}

// waitOnce is one wait of the engine's, at most ms (< 0: until decided or timed out).
func (x *Execution) waitOnce(id string, ms int64) (Approval, error) {
	var out *C.char
	p, n := cstr(id)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return C.wflo_execution_wait_for_approval(h, p, n, C.int64_t(ms), &out)
	}); err != nil {
		return Approval{}, err
	}
	var a Approval
	return a, takeJSON(out, &a)
}

// RequireApproval asks for req (RequestApproval) and waits until it is decided or its timeout
// passes: it returns the approval once approved, and a *ApprovalDeniedError when denied or
// timed out under OnTimeoutDeny; ctx.Err() when ctx ends first (the approval stays pending,
// and asking again for the gate finds it).
func (x *Execution) RequireApproval(ctx context.Context, req ApprovalRequest) (Approval, error) {
	a, err := x.RequestApproval(req)
	if err != nil {
		return Approval{}, err
	}
	return x.WaitForApproval(ctx, a.ID, -1)
}

// Approvals lists the approvals of the engine's store, newest first: only the pending ones
// with pendingOnly.
func (e *Engine) Approvals(pendingOnly bool) ([]Approval, error) {
	var out *C.char
	if err := e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_engine_approvals_json(h, C.bool(pendingOnly), &out)
	}); err != nil {
		return nil, err
	}
	all := []Approval{}
	return all, takeJSON(out, &all)
}

// Approval is the approval id as the store has it, pending or decided; ErrNotFound when
// there is none with that id.
func (e *Engine) Approval(id string) (Approval, error) {
	p, n := cstr(id)
	var out *C.char
	if err := e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_engine_approval_json(h, p, n, &out)
	}); err != nil {
		return Approval{}, err
	}
	var a Approval
	return a, takeJSON(out, &a)
}

// SetApprovalWait says how a reservation over an execution's approval threshold
// (ExecutionOptions.ApprovalAboveUSD) waits for its gate's decision. false, the default:
// the reserving goroutine blocks until a person decides (approved: the reservation goes on;
// denied or timed out: *ApprovalDeniedError). true: the reservation fails at once with a
// *ApprovalPendingError naming the approval (nothing reserved), and the caller waits for it
// (Execution.WaitForApproval, which a context bounds) and reserves again.
func (e *Engine) SetApprovalWait(returnPending bool) error {
	return e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_engine_set_approval_wait(h, C.bool(returnPending))
	})
}

// Approve approves the pending approval id with note ("": none), decided by by ("": this
// user, "user@host"). An approval already decided is ErrConflict; an unknown id ErrNotFound.
func (e *Engine) Approve(id, note, by string) (Approval, error) { return e.decide(id, true, note, by) }

// Deny denies the pending approval id with note ("": none), decided by by ("": this user,
// "user@host"); the waiting workflow gets a *ApprovalDeniedError carrying both. An approval
// already decided is ErrConflict; an unknown id ErrNotFound.
func (e *Engine) Deny(id, note, by string) (Approval, error) { return e.decide(id, false, note, by) }

func (e *Engine) decide(id string, approve bool, note, by string) (Approval, error) {
	ip, in := cstr(id)
	bp, bn := cstr(by) // "": NULL, the default decider
	np, nn := cstr(note)
	var out *C.char
	if err := e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_engine_decide_approval(h, ip, in, C.bool(approve), bp, bn, np, nn, &out)
	}); err != nil {
		return Approval{}, err
	}
	var a Approval
	return a, takeJSON(out, &a)
}
