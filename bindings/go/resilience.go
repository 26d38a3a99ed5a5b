package wflo

// Retries and circuit breakers. The rules — what is retryable, how long to wait, when a
// breaker opens — are the engine's (libwflo's resilience module); this file converts Go
// values to and from them. The loop that waits (Retry, in retry.go) is Go's.

/*
#include "wflo.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"runtime"
	"sort"
	"sync"
	"time"
)

// Backoff is how a retry policy's delay grows from one retry to the next.
type Backoff string

// The backoffs. The delay before retry n is BaseDelay × Multiplier^(n−1) (exponential),
// BaseDelay × n (linear) or BaseDelay (fixed), capped at MaxDelay, then jittered.
const (
	BackoffExponential Backoff = "exponential"
	BackoffLinear      Backoff = "linear"
	BackoffFixed       Backoff = "fixed"
)

// RetryPolicy says when a failed call is sent again and after how long. Its zero value is
// the engine's default policy (3 retries, exponential from 1 s, ×2, capped at 60 s, ±10%
// jitter, retrying 408, 429, 5xx, timeouts and connection errors); each zero field keeps the
// engine's default, so set only what differs. A policy converts to and from the engine's JSON
// (json.Marshal, json.Unmarshal: "max_retries", "base_delay_ms", …).
type RetryPolicy struct {
	// Backoff: "" is BackoffExponential.
	Backoff Backoff
	// MaxRetries after the first attempt (at most MaxRetries+1 attempts); nil: 3. new(0)
	// makes a single attempt.
	MaxRetries *int
	// BaseDelay is the first retry's delay before jitter (0: 1 s). Delays cross to the
	// engine in whole milliseconds, rounded up.
	BaseDelay time.Duration
	// MaxDelay caps a computed delay (0: 60 s); a server's Retry-After may ask for longer.
	MaxDelay time.Duration
	// Multiplier of the exponential backoff, 1 to 100 (0: 2).
	Multiplier float64
	// Jitter spreads each delay uniformly by ± this fraction, 0 to 1; nil: 0.1, new(0.0): none.
	Jitter *float64
	// Deadline: no retry whose wait would end later than this after the first attempt
	// began (0: none).
	Deadline time.Duration
	// RetryStatuses are the HTTP statuses worth retrying; nil: 408, 429 and every 5xx.
	RetryStatuses []int
	// RetryTimeouts: nil is true.
	RetryTimeouts *bool
	// RetryConnectionErrors: nil is true.
	RetryConnectionErrors *bool
	// Seed makes the jitter reproducible (tests); nil draws it from the OS.
	Seed *uint64
}

// policyJSON is RetryPolicy as the engine reads it; absent keys keep the engine's defaults.
type policyJSON struct {
	Backoff               Backoff  `json:"backoff,omitempty"`
	MaxRetries            *int     `json:"max_retries,omitempty"`
	BaseDelayMS           uint64   `json:"base_delay_ms,omitempty"`
	MaxDelayMS            uint64   `json:"max_delay_ms,omitempty"`
	Multiplier            float64  `json:"multiplier,omitempty"`
	Jitter                *float64 `json:"jitter,omitempty"`
	DeadlineMS            *uint64  `json:"deadline_ms,omitempty"`
	RetryStatuses         *[]int   `json:"retry_statuses,omitempty"`
	RetryTimeouts         *bool    `json:"retry_timeouts,omitempty"`
	RetryConnectionErrors *bool    `json:"retry_connection_errors,omitempty"`
	Seed                  *uint64  `json:"seed,omitempty"`
}

// millis converts a duration to whole milliseconds, rounding up so that a positive duration
// never reads as 0 ("the default"); negative durations are ErrInvalidArgument.
func millis(field string, d time.Duration) (uint64, error) {
	if d < 0 {
		return 0, invalid("invalid argument: retry policy: %s is negative (%v)", field, d)
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond), nil
}

// MarshalJSON writes the policy as the engine's JSON.
func (p RetryPolicy) MarshalJSON() ([]byte, error) {
	j := policyJSON{Backoff: p.Backoff, MaxRetries: p.MaxRetries, Multiplier: p.Multiplier, Jitter: p.Jitter,
		RetryTimeouts: p.RetryTimeouts, RetryConnectionErrors: p.RetryConnectionErrors, Seed: p.Seed}
	var err error
	if j.BaseDelayMS, err = millis("BaseDelay", p.BaseDelay); err != nil {
		return nil, err
	}
	if j.MaxDelayMS, err = millis("MaxDelay", p.MaxDelay); err != nil {
		return nil, err
	}
	if p.Deadline != 0 {
		ms, err := millis("Deadline", p.Deadline)
		if err != nil {
			return nil, err
		}
		j.DeadlineMS = &ms
	}
	if p.RetryStatuses != nil {
		j.RetryStatuses = &p.RetryStatuses
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the engine's JSON ({"max_retries": 5, "backoff": "linear", …});
// unknown keys are ErrInvalidArgument. An explicit 0 for base_delay_ms or max_delay_ms has no
// RetryPolicy value (0 there means the default) and is ErrInvalidArgument too.
func (p *RetryPolicy) UnmarshalJSON(data []byte) error {
	var j policyJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return invalid("invalid argument: retry policy: %v", err)
	}
	var explicit map[string]json.RawMessage
	_ = json.Unmarshal(data, &explicit)
	for _, key := range []string{"base_delay_ms", "max_delay_ms"} {
		if v, ok := explicit[key]; ok && string(v) == "0" {
			return invalid("invalid argument: retry policy: %s 0 cannot be expressed as a RetryPolicy (0 is the default)", key)
		}
	}
	*p = RetryPolicy{Backoff: j.Backoff, MaxRetries: j.MaxRetries, Multiplier: j.Multiplier, Jitter: j.Jitter,
		BaseDelay: time.Duration(j.BaseDelayMS) * time.Millisecond, MaxDelay: time.Duration(j.MaxDelayMS) * time.Millisecond,
		RetryTimeouts: j.RetryTimeouts, RetryConnectionErrors: j.RetryConnectionErrors, Seed: j.Seed}
	if j.DeadlineMS != nil {
		p.Deadline = time.Duration(*j.DeadlineMS) * time.Millisecond
	}
	if j.RetryStatuses != nil {
		p.RetryStatuses = *j.RetryStatuses
	}
	return nil
}

// FailureKind is what an attempt failed with.
type FailureKind string

// The failure kinds (Failure.Kind).
const (
	// FailureHTTP: the provider answered with an error status (Failure.Status).
	FailureHTTP FailureKind = "http"
	// FailureTimeout: no answer in time.
	FailureTimeout FailureKind = "timeout"
	// FailureConnection: the connection failed or was reset.
	FailureConnection FailureKind = "connection"
	// FailureTransient: the caller declared this error retryable; retried while attempts last.
	FailureTransient FailureKind = "transient"
	// FailureRefused: wflo refused the call (IsRefusal: a budget, an open breaker, a busy
	// resource, a denied approval); never retried.
	FailureRefused FailureKind = "refused"
	// FailureOther: anything else; never retried.
	FailureOther FailureKind = "other"
)

// Failure is one failed attempt as the caller saw it: its kind, the HTTP status and headers
// of an error answer (only the Retry-After and rate-limit ones are read), and a short
// message ("429 Too Many Requests") that the decision's reason quotes.
type Failure struct {
	Kind    FailureKind
	Status  int // 0: none
	Headers http.Header
	Message string
}

// MarshalJSON writes the failure as the engine reads it.
func (f Failure) MarshalJSON() ([]byte, error) {
	headers := [][2]string{}
	names := make([]string, 0, len(f.Headers))
	for name := range f.Headers {
		names = append(names, name)
	}
	sort.Strings(names) // a stable order: the engine reads the first of a repeated header
	for _, name := range names {
		for _, v := range f.Headers[name] {
			headers = append(headers, [2]string{name, v})
		}
	}
	var status *int
	if f.Status != 0 {
		status = &f.Status
	}
	return json.Marshal(struct {
		Kind    FailureKind `json:"kind"`
		Status  *int        `json:"status"`
		Headers [][2]string `json:"headers"`
		Message string      `json:"message"`
	}{f.Kind, status, headers, f.Message})
}

// Decision is what to do after a failed attempt: Retry after Delay with attempt number
// Attempt (reserving it first), or give up (Retry false: the last failure stands, and Why
// says which rule gave up). Reason says why, in the engine's words.
type Decision struct {
	Retry   bool
	Attempt int
	Delay   time.Duration
	Reason  string
	Why     GiveUpWhy
}

// GiveUpWhy is the rule by which a retrier gave up.
type GiveUpWhy string

// The reasons to give up (Decision.Why).
const (
	// GiveUpNotRetryable: the failure is not worth retrying; it stands as it is.
	GiveUpNotRetryable GiveUpWhy = "not_retryable"
	// GiveUpExhausted: the policy's retries are used up.
	GiveUpExhausted GiveUpWhy = "exhausted"
	// GiveUpDeadline: the next wait would pass the policy's deadline.
	GiveUpDeadline GiveUpWhy = "deadline"
)

// Retrier is the retry state of one logical call: how many attempts were made, since when.
// Make one per call with Engine.Retrier; Retry runs the whole loop. Safe for concurrent use.
// Close frees it (closing twice is fine); a cleanup frees a forgotten one.
type Retrier struct {
	mu      sync.Mutex
	ptr     *C.wflo_retrier
	cleanup runtime.Cleanup
	// reason is the last retry decision's: recorded with the attempt it led to.
	reason string
}

// Retrier starts the retry state of a call whose first attempt begins now.
func (e *Engine) Retrier(policy RetryPolicy) (*Retrier, error) {
	text, err := json.Marshal(policy)
	if err != nil {
		return nil, err
	}
	p, n := cbytes(text)
	var ptr *C.wflo_retrier
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_retrier(h, p, n, &ptr) }); err != nil {
		return nil, err
	}
	r := &Retrier{ptr: ptr}
	r.cleanup = runtime.AddCleanup(r, func(p *C.wflo_retrier) { C.wflo_retrier_free(p) }, ptr)
	return r, nil
}

// with runs f with the live retrier pointer.
func (r *Retrier) with(f func(*C.wflo_retrier) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return &Error{Code: CodeClosed, Message: "closed: the retrier is closed"}
	}
	return f(r.ptr)
}

// Next reports that the attempt just made failed with f and returns what to do.
func (r *Retrier) Next(f Failure) (Decision, error) {
	text, err := json.Marshal(f)
	if err != nil {
		return Decision{}, invalid("invalid argument: failure: %v", err)
	}
	var out *C.char
	err = r.with(func(h *C.wflo_retrier) error {
		p, n := cbytes(text)
		return call(func() C.wflo_status { return C.wflo_retrier_next(h, p, n, &out) })
	})
	if err != nil {
		return Decision{}, err
	}
	var d struct {
		Decision string    `json:"decision"`
		Attempt  int       `json:"attempt"`
		DelayMS  uint64    `json:"delay_ms"`
		Reason   string    `json:"reason"`
		Why      GiveUpWhy `json:"why"`
	}
	if err := takeJSON(out, &d); err != nil {
		return Decision{}, err
	}
	decision := Decision{Retry: d.Decision == "retry", Attempt: d.Attempt,
		Delay: time.Duration(d.DelayMS) * time.Millisecond, Reason: d.Reason, Why: d.Why}
	if decision.Retry {
		r.mu.Lock()
		r.reason = d.Reason
		r.mu.Unlock()
	}
	return decision, nil
}

// Attempt is the attempt being made now (1 for the first); 0 once closed.
func (r *Retrier) Attempt() int {
	var n C.uint32_t
	_ = r.with(func(h *C.wflo_retrier) error {
		n = C.wflo_retrier_attempt(h)
		return nil
	})
	return int(n)
}

// Target is where a call's budget is held: an *Execution or one of its *Scopes.
type Target interface {
	target() (*Execution, *Scope)
}

func (x *Execution) target() (*Execution, *Scope) { return x, nil }
func (s *Scope) target() (*Execution, *Scope)     { return s.exec, s }

// ReserveRequest reserves this attempt of the call on t like Execution.ReserveRequest, and
// records which attempt it is and why it is made (opts' Attempt and RetryReason, when
// unset); when the budget refuses a retry, the *BudgetExceededError says which attempt was
// not sent and what failed before it (its RetryNote).
func (r *Retrier) ReserveRequest(t Target, format string, body []byte, opts *RequestOptions) (*Reservation, []byte, error) {
	var res *Reservation
	var sent []byte
	err := r.with(func(h *C.wflo_retrier) error {
		x, s := t.target()
		var err error
		res, sent, err = reserveRequest(x, s, format, body, r.optionsOf(h, opts), h)
		return err
	})
	return res, sent, err
}

// optionsOf is opts with this attempt's number and reason filled in, for a retry.
func (r *Retrier) optionsOf(h *C.wflo_retrier, opts *RequestOptions) *RequestOptions {
	n := int(C.wflo_retrier_attempt(h))
	if n <= 1 {
		return opts
	}
	o := RequestOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Attempt == 0 {
		o.Attempt = n
	}
	if o.RetryReason == "" {
		o.RetryReason = r.reason
	}
	return &o
}

// Reserve reserves this attempt of the call on t like Execution.Reserve, re-worded as
// ReserveRequest when the budget refuses a retry.
func (r *Retrier) Reserve(t Target, req CallRequest) (*Reservation, error) {
	var res *Reservation
	err := r.with(func(h *C.wflo_retrier) error {
		x, s := t.target()
		var err error
		res, err = reserve(x, s, req, h)
		return err
	})
	return res, err
}

// refusedBy: with a retrier, a failed reservation's error (the thread's last) is re-worded by
// it. Runs inside call's locked section, so the error re-worded and then read is this one.
func refusedBy(retrier *C.wflo_retrier, status C.wflo_status) C.wflo_status {
	if status == C.WFLO_STATUS_OK || retrier == nil {
		return status
	}
	return C.wflo_retrier_refused(retrier)
}

// Close frees the retrier. Closing twice is fine.
func (r *Retrier) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		r.cleanup.Stop()
		C.wflo_retrier_free(r.ptr)
		r.ptr = nil
	}
}

// BreakerConfig is a circuit breaker's settings; each zero field keeps the engine's default.
// It converts to and from the engine's JSON (json.Marshal, json.Unmarshal).
type BreakerConfig struct {
	// FailureThreshold: consecutive failures that open the breaker (0: 5).
	FailureThreshold int
	// RecoveryTimeout: how long an open breaker refuses before it lets trial calls through
	// (0: 60 s; whole milliseconds, rounded up).
	RecoveryTimeout time.Duration
	// SuccessThreshold: successful trial calls that close a half-open breaker (0: 2).
	SuccessThreshold int
	// FailureRate also opens it when this fraction of the last Window calls failed, once the
	// window holds MinCalls calls (0: the count rule only).
	FailureRate float64
	// Window: calls the rate rule looks at (0: 20).
	Window int
	// MinCalls: calls the window must hold before the rate rule applies (0: 10).
	MinCalls int
	// Shared keeps the state in the store: every process on the store sees one breaker;
	// give them all the same settings; each check/outcome is a store transaction (false:
	// this engine's own breaker, in memory). A shared breaker's RecordSuccess,
	// RecordFailure, Reset, State and Status may then return the store's errors.
	Shared bool
}

// breakerJSON is BreakerConfig as the engine reads it; absent keys keep its defaults.
type breakerJSON struct {
	FailureThreshold  int     `json:"failure_threshold,omitempty"`
	RecoveryTimeoutMS uint64  `json:"recovery_timeout_ms,omitempty"`
	SuccessThreshold  int     `json:"success_threshold,omitempty"`
	FailureRate       float64 `json:"failure_rate,omitempty"`
	Window            int     `json:"window,omitempty"`
	MinCalls          int     `json:"min_calls,omitempty"`
	Shared            bool    `json:"shared,omitempty"`
}

// MarshalJSON writes the settings as the engine's JSON ("recovery_timeout_ms", …).
func (c BreakerConfig) MarshalJSON() ([]byte, error) {
	ms, err := millis("RecoveryTimeout", c.RecoveryTimeout)
	if err != nil {
		return nil, err
	}
	return json.Marshal(breakerJSON{FailureThreshold: c.FailureThreshold, RecoveryTimeoutMS: ms,
		SuccessThreshold: c.SuccessThreshold, FailureRate: c.FailureRate, Window: c.Window, MinCalls: c.MinCalls,
		Shared: c.Shared})
}

// UnmarshalJSON reads the engine's JSON; unknown keys are ErrInvalidArgument.
func (c *BreakerConfig) UnmarshalJSON(data []byte) error {
	var j breakerJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return invalid("invalid argument: circuit breaker settings: %v", err)
	}
	*c = BreakerConfig{FailureThreshold: j.FailureThreshold, RecoveryTimeout: time.Duration(j.RecoveryTimeoutMS) * time.Millisecond,
		SuccessThreshold: j.SuccessThreshold, FailureRate: j.FailureRate, Window: j.Window, MinCalls: j.MinCalls,
		Shared: j.Shared}
	return nil
}

// BreakerState is where a breaker is.
type BreakerState string

// The breaker states.
const (
	BreakerClosed   BreakerState = "closed"
	BreakerOpen     BreakerState = "open"
	BreakerHalfOpen BreakerState = "half_open"
)

// BreakerTransition is a change of a breaker's state, as recorded in the store.
type BreakerTransition struct {
	// Breaker is the breaker's name.
	Breaker string `json:"breaker"`
	// Shared: the breaker is shared through the store (else it is one process's).
	Shared bool         `json:"shared"`
	From   BreakerState `json:"from"`
	To     BreakerState `json:"to"`
	AtMS   uint64       `json:"at_ms"`
	// Reason says why: "5 consecutive failures", "recovery timeout passed",
	// "2 successful trial calls", "reset".
	Reason string `json:"reason"`
	// Holder is the process whose call made the change ("host:pid").
	Holder string `json:"holder"`
}

// BreakerStatus is a breaker's figures.
type BreakerStatus struct {
	Name string `json:"name"`
	// Shared: its state lives in the store (BreakerConfig.Shared); this is the store's.
	Shared bool         `json:"shared"`
	State  BreakerState `json:"state"`
	// FailureCount: consecutive failures (closed) or failures since it last closed.
	FailureCount uint32 `json:"failure_count"`
	// SuccessCount: successful trial calls while half-open.
	SuccessCount  uint32 `json:"success_count"`
	TotalCalls    uint64 `json:"total_calls"`
	TotalFailures uint64 `json:"total_failures"`
	// Rejected: calls refused because the breaker was open.
	Rejected   uint64  `json:"rejected"`
	OpenedAtMS *uint64 `json:"opened_at_ms"`
	// RetryInMS: while open, how long until trial calls are let through.
	RetryInMS *uint64 `json:"retry_in_ms"`
	// Transitions: the most recent state changes, oldest first.
	Transitions []BreakerTransition `json:"transitions"`
}

// Breaker is a named circuit breaker: after enough failures, calls through it fail fast
// with a *CircuitOpenError until its recovery timeout has passed; then trial calls decide
// whether it closes again. Every Breaker of an engine with the same name shares one state;
// with BreakerConfig.Shared, so does every engine and process on the store.
// Safe for concurrent use. Close frees the handle (the breaker stays in the engine).
type Breaker struct {
	name    string
	mu      sync.RWMutex
	ptr     *C.wflo_breaker
	cleanup runtime.Cleanup
}

// Breaker returns the engine's breaker called name (1 to 200 bytes), made with config the
// first time it is asked for (nil: the defaults); later calls get the same breaker whatever
// config they pass.
func (e *Engine) Breaker(name string, config *BreakerConfig) (*Breaker, error) {
	var cfg []byte
	if config != nil {
		var err error
		if cfg, err = json.Marshal(config); err != nil {
			return nil, err
		}
	}
	np, nn := cstr(name)
	cp, cn := cbytes(cfg)
	var ptr *C.wflo_breaker
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_breaker(h, np, nn, cp, cn, &ptr) }); err != nil {
		return nil, err
	}
	b := &Breaker{name: name, ptr: ptr}
	b.cleanup = runtime.AddCleanup(b, func(p *C.wflo_breaker) { C.wflo_breaker_free(p) }, ptr)
	return b, nil
}

// Breakers is the status of every breaker of the engine, by name.
func (e *Engine) Breakers() ([]BreakerStatus, error) {
	var out *C.char
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_breakers_json(h, &out) }); err != nil {
		return nil, err
	}
	var all []BreakerStatus
	return all, takeJSON(out, &all)
}

// BreakersOnStore is what the store knows of circuit breakers (Engine.BreakersOnStore).
type BreakersOnStore struct {
	// Shared is every shared breaker's figures, by name, whichever process made it.
	Shared []BreakerStatus `json:"shared"`
	// Transitions are the latest changes of state of every breaker, shared or one
	// process's, oldest first.
	Transitions []BreakerTransition `json:"transitions"`
}

// BreakersOnStore is the circuit breakers as the store knows them, whichever process made
// them: every shared breaker's figures (only name's when name is not "") and the latest limit
// changes of state of every breaker, oldest first (what `wflo breakers --json` prints).
// A limit below 0 or above 2^32−1 is ErrInvalidArgument.
func (e *Engine) BreakersOnStore(name string, limit int) (BreakersOnStore, error) {
	var on BreakersOnStore
	if limit < 0 || uint64(limit) > math.MaxUint32 {
		return on, invalid("invalid argument: limit must be 0 to %d, not %d", uint64(math.MaxUint32), limit)
	}
	np, nn := cstr(name) // "": NULL, every breaker
	var out *C.char
	if err := e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_engine_breakers_on_store_json(h, np, nn, C.uint32_t(limit), &out)
	}); err != nil {
		return on, err
	}
	return on, takeJSON(out, &on)
}

func (b *Breaker) with(f func(*C.wflo_breaker) C.wflo_status) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.ptr == nil {
		return &Error{Code: CodeClosed, Message: "closed: the breaker handle is closed"}
	}
	ptr := b.ptr
	return call(func() C.wflo_status { return f(ptr) })
}

// Name is the breaker's name.
func (b *Breaker) Name() string { return b.name }

// IsRefusal says whether err, or an error it wraps, is one of wflo's own refusals rather than
// a failure of what was called — the engine's rule (wflo_status_is_refusal): a budget
// (*BudgetExceededError), an open breaker (*CircuitOpenError), a busy resource
// (*ResourceBusyError), a denied or pending approval (*ApprovalDeniedError,
// *ApprovalPendingError). A breaker does not count a
// refusal, as a failure or a success (Breaker.Call records nothing for it), and Retry never
// retries it. Around Check, RecordSuccess and RecordFailure by hand, ask it before recording.
func IsRefusal(err error) bool {
	if err == nil {
		return false
	}
	if c, ok := err.(coded); ok && bool(C.wflo_status_is_refusal(C.int32_t(c.wfloCode()))) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return IsRefusal(u.Unwrap())
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if IsRefusal(e) {
				return true
			}
		}
	}
	return false
}

// Call runs fn through the breaker: Check first — an open breaker returns its
// *CircuitOpenError and fn is not called — then records fn's outcome: a success when it
// returns nil, a failure when it returns an error. A wflo refusal returned by fn (IsRefusal)
// is no failure of what the breaker guards, nor a success: nothing is recorded. fn's error is
// returned as it is; for a shared breaker, an error of the store while recording is joined to
// it (or returned alone after a success).
func (b *Breaker) Call(fn func() error) error {
	if err := b.Check(); err != nil {
		return err
	}
	err := fn()
	switch {
	case err == nil:
		return b.RecordSuccess()
	case IsRefusal(err):
		return err
	}
	if rerr := b.RecordFailure(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// Check says whether a call may go through now: nil, or a *CircuitOpenError
// (errors.Is(err, ErrCircuitOpen)) carrying how long until trial calls are let through.
// Call it before reserving; an open breaker whose recovery timeout passed turns half-open.
func (b *Breaker) Check() error {
	return b.with(func(h *C.wflo_breaker) C.wflo_status { return C.wflo_breaker_check(h) })
}

// RecordSuccess records that a call Check let through succeeded. The error is ErrClosed
// once the handle is closed, or, for a shared breaker, the store's.
func (b *Breaker) RecordSuccess() error {
	return b.with(func(h *C.wflo_breaker) C.wflo_status { return C.wflo_breaker_record(h, true) })
}

// RecordFailure records that a call Check let through failed. The error is ErrClosed once
// the handle is closed, or, for a shared breaker, the store's.
func (b *Breaker) RecordFailure() error {
	return b.with(func(h *C.wflo_breaker) C.wflo_status { return C.wflo_breaker_record(h, false) })
}

// Reset closes the breaker and forgets its counts — for every process on the store when it
// is shared. The error is ErrClosed once the handle is closed, or, shared, the store's.
func (b *Breaker) Reset() error {
	return b.with(func(h *C.wflo_breaker) C.wflo_status { return C.wflo_breaker_reset(h) })
}

// Status is the breaker's figures now.
func (b *Breaker) Status() (BreakerStatus, error) {
	var out *C.char
	var st BreakerStatus
	if err := b.with(func(h *C.wflo_breaker) C.wflo_status { return C.wflo_breaker_status_json(h, &out) }); err != nil {
		return st, err
	}
	return st, takeJSON(out, &st)
}

// State is where the breaker is now (a shared breaker's, read from the store). The error is
// ErrClosed once the handle is closed, or, shared, the store's.
func (b *Breaker) State() (BreakerState, error) {
	st, err := b.Status()
	return st.State, err
}

// Close frees the handle; the breaker stays in the engine. Closing twice is fine.
func (b *Breaker) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ptr != nil {
		b.cleanup.Stop()
		C.wflo_breaker_free(b.ptr)
		b.ptr = nil
	}
}
