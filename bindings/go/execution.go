package wflo

/*
#include "wflo.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
)

// ExecutionOptions starts an execution.
type ExecutionOptions struct {
	// Name of the workflow ("research-agent").
	Name string
	// BudgetUSD is the execution's limit in dollars: nil means no limit, wflo.USD(0) a budget
	// of zero.
	BudgetUSD *float64
	// ID to use instead of a fresh "exec-" + 12 hex.
	ID string
	// SharedScopes the execution also draws from (defined with DefineSharedScope).
	SharedScopes []string
	// TraceParent joins the host's trace: a W3C traceparent header value
	// ("00-<trace id>-<span id>-<flags>"). Empty: StartExecutionContext takes the context's
	// OpenTelemetry span, else wflo starts a trace of its own.
	TraceParent string
	// AlertThresholds are the percents of each limit at which OnThreshold's listeners are
	// called, ascending, each 1 to 100: nil means 50, 80 and 95; an empty slice, none.
	AlertThresholds []int
	// SoftBudgetUSD fires one alert (AlertSoftBudget) when spend reaches it and refuses
	// nothing: nil means none.
	SoftBudgetUSD *float64
	// ApprovalAboveUSD is an approval threshold in dollars: a call whose worst case passes it
	// meets a numbered approval gate ("call #3 over $0.50") and waits for a person's decision
	// before it reserves — blocking its goroutine (see Engine.SetApprovalWait); denied, the
	// call is a *ApprovalDeniedError and nothing is reserved. nil means none.
	ApprovalAboveUSD *float64
	// MaxCalls is the most LLM calls the execution may make (the original SDK's
	// max_iterations): the next is a *CallLimitError, refused before anything is reserved or
	// sent; a call refused for another reason does not count, and a resumed execution counts
	// the calls it made before. nil means no cap (wflo.Calls(n) makes the pointer).
	MaxCalls *int64
	// AgentBudgetsUSD gives each agent its own budget in dollars, by the name its framework
	// gives the agent: a call made for an agent (RequestOptions.Agent, or a context from
	// WithAgent) reserves on the agent's scope "agent:" + name, limited by that share and by
	// the execution's budget. An agent without an entry has only the execution's budget.
	AgentBudgetsUSD map[string]float64
}

// Calls returns a pointer to n, for ExecutionOptions.MaxCalls.
func Calls(n int64) *int64 { return &n }

// options is the start options as the C ABI takes them (nil: none).
func (opts ExecutionOptions) options() ([]byte, error) {
	m := map[string]any{}
	if opts.ID != "" {
		m["id"] = opts.ID
	}
	if len(opts.SharedScopes) > 0 {
		m["shared_scopes"] = opts.SharedScopes
	}
	if opts.TraceParent != "" {
		m["traceparent"] = opts.TraceParent
	}
	if opts.AlertThresholds != nil {
		m["alert_thresholds"] = opts.AlertThresholds
	}
	if opts.SoftBudgetUSD != nil {
		soft, err := USDToNanos(*opts.SoftBudgetUSD)
		if err != nil {
			return nil, err
		}
		m["soft_budget_nanos"] = soft
	}
	if opts.ApprovalAboveUSD != nil {
		above, err := USDToNanos(*opts.ApprovalAboveUSD)
		if err != nil {
			return nil, err
		}
		m["approval_above_nanos"] = above
	}
	if opts.MaxCalls != nil {
		if *opts.MaxCalls < 0 {
			return nil, invalid("invalid argument: MaxCalls must be 0 or more calls, got %d", *opts.MaxCalls)
		}
		m["max_calls"] = *opts.MaxCalls
	}
	if len(opts.AgentBudgetsUSD) > 0 {
		agents := make(map[string]uint64, len(opts.AgentBudgetsUSD))
		for name, usd := range opts.AgentBudgetsUSD {
			nanos, err := USDToNanos(usd)
			if err != nil {
				return nil, err
			}
			agents[name] = nanos
		}
		m["agent_budgets"] = agents
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// Execution is a running execution. Safe for concurrent use. Close it to free the handle
// (the execution itself stays in the store); closing twice is fine.
type Execution struct {
	engine    *Engine
	mu        sync.RWMutex
	ptr       *C.wflo_execution
	id        string
	traceOnce sync.Once
	traceID   string
	cleanup   runtime.Cleanup
}

func newExecution(e *Engine, ptr *C.wflo_execution) *Execution {
	x := &Execution{engine: e, ptr: ptr, id: C.GoString(C.wflo_execution_id(ptr))}
	x.cleanup = runtime.AddCleanup(x, func(p *C.wflo_execution) { C.wflo_execution_free(p) }, ptr)
	return x
}

// StartExecution starts an execution with a budget.
func (e *Engine) StartExecution(opts ExecutionOptions) (*Execution, error) {
	return e.StartExecutionContext(context.Background(), opts)
}

// StartExecutionContext starts an execution in the trace of ctx's OpenTelemetry span (when
// ctx carries one and opts.TraceParent is empty): wflo's spans join the host's trace, and
// TraceID is that trace's id.
func (e *Engine) StartExecutionContext(ctx context.Context, opts ExecutionOptions) (*Execution, error) {
	budget, err := optionalBudget(opts.BudgetUSD)
	if err != nil {
		return nil, err
	}
	if opts.TraceParent == "" {
		opts.TraceParent = traceParent(ctx)
	}
	options, err := opts.options()
	if err != nil {
		return nil, err
	}
	var ptr *C.wflo_execution
	np, nn := cstr(opts.Name)
	op, on := cbytes(options)
	err = e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_execution_start(h, np, nn, C.int64_t(budget), op, on, &ptr)
	})
	if err != nil {
		return nil, err
	}
	return newExecution(e, ptr), nil
}

// ResumeExecution opens a stored execution again with its spend and history (in this
// process or a new one); LatestCheckpoint is where it continues.
func (e *Engine) ResumeExecution(id string) (*Execution, error) {
	var ptr *C.wflo_execution
	p, n := cstr(id)
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_execution_resume(h, p, n, &ptr) }); err != nil {
		return nil, err
	}
	return newExecution(e, ptr), nil
}

// Engine is the engine the execution runs on.
func (x *Execution) Engine() *Engine { return x.engine }

// ID is the execution id ("exec-" + 12 hex).
func (x *Execution) ID() string { return x.id }

// TraceID is the W3C trace id the execution belongs to, 32 lower-case hex digits: the trace
// of its TraceParent (or of the OpenTelemetry span StartExecutionContext was given), else
// one wflo drew when it started. "" once the handle is closed.
func (x *Execution) TraceID() string {
	x.traceOnce.Do(func() {
		var out *C.char
		if x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_execution_trace_id(h, &out) }) == nil {
			x.traceID = takeString(out)
		}
	})
	return x.traceID
}

func (x *Execution) with(f func(*C.wflo_execution) C.wflo_status) error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.ptr == nil {
		return &Error{Code: CodeClosed, Message: "closed: the execution handle is closed"}
	}
	ptr := x.ptr
	return call(func() C.wflo_status { return f(ptr) })
}

// Close frees the handle. Closing twice is fine.
func (x *Execution) Close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.ptr != nil {
		x.cleanup.Stop()
		C.wflo_execution_free(x.ptr)
		x.ptr = nil
	}
}

// Finish ends the execution with a status chosen by the caller: "completed", "failed",
// "budget_exceeded" (or "running" to reopen). To end it the way its work ended, use End.
func (x *Execution) Finish(status string) error {
	p, n := cstr(status)
	return x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_execution_finish(h, p, n) })
}

// End finishes the execution the way its work ended, by the engine's one rule: err nil (the
// work returned) → "completed"; a budget refusal anywhere along err's chain (errors.Unwrap,
// errors.Join, and As methods) → "budget_exceeded"; any other error → "failed". It returns the
// status chosen.
//
//	defer func() { _, _ = exec.End(err) }()
func (x *Execution) End(err error) (string, error) {
	var raised []byte
	if err != nil {
		raised, _ = json.Marshal(errorCodes(err))
	}
	rp, rn := cbytes(raised)
	var out *C.char
	if e := x.with(func(h *C.wflo_execution) C.wflo_status {
		return C.wflo_execution_end(h, rp, rn, &out)
	}); e != nil {
		return "", e
	}
	return C.GoString(out), nil // a static string: not freed
}

// errorCodes lists the wflo error codes found along err's chain, outermost first: every error
// errors.Unwrap (or a multi-error's Unwrap() []error) reaches, each one that is a wflo error or
// converts to one with errors.As semantics. A foreign error with no wflo error inside gives an
// empty list; nil gives nil.
func errorCodes(err error) []string {
	if err == nil {
		return nil
	}
	codes := []string{}
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if c, ok := ownCode(e); ok {
			codes = append(codes, c.String())
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
	return codes
}

// ownCode is the wflo code of e itself (not of what it wraps): one of this package's error
// types, or an error whose As method converts it to one.
func ownCode(e error) (Code, bool) {
	if c, ok := e.(coded); ok { // every error type of this package
		return c.wfloCode(), true
	}
	if a, ok := e.(interface{ As(any) bool }); ok {
		var be *BudgetExceededError
		var um *UnknownModelError
		var co *CircuitOpenError
		var rb *ResourceBusyError
		var ad *ApprovalDeniedError
		var ap *ApprovalPendingError
		var cl *CallLimitError
		var we *Error
		switch {
		case a.As(&be):
			return CodeBudgetExceeded, true
		case a.As(&um):
			return CodeUnknownModel, true
		case a.As(&co):
			return CodeCircuitOpen, true
		case a.As(&rb):
			return CodeResourceBusy, true
		case a.As(&ad):
			return CodeApprovalDenied, true
		case a.As(&ap):
			return CodeApprovalPending, true
		case a.As(&cl):
			return CodeCallLimit, true
		case a.As(&we) && we != nil:
			return we.Code, true
		}
	}
	return 0, false
}

// ModelCost is one model's share of an execution.
type ModelCost struct {
	Model     string  `json:"model"`
	Calls     uint64  `json:"calls"`
	CostNanos uint64  `json:"cost_nanos"`
	CostUSD   float64 `json:"cost_usd"`
	Usage     Usage   `json:"usage"`
}

// StepCost is one step's share.
type StepCost struct {
	Step        string  `json:"step"`
	Calls       uint64  `json:"calls"`
	Refused     uint64  `json:"refused"`
	CostNanos   uint64  `json:"cost_nanos"`
	CostUSD     float64 `json:"cost_usd"`
	BudgetNanos *uint64 `json:"budget_nanos"`
}

// Breakdown is where an execution's money went.
type Breakdown struct {
	ExecutionID    string      `json:"execution_id"`
	Name           string      `json:"name"`
	Status         string      `json:"status"`
	TotalNanos     uint64      `json:"total_nanos"`
	BudgetNanos    *uint64     `json:"budget_nanos"`
	ReservedNanos  uint64      `json:"reserved_nanos"`
	RemainingNanos *uint64     `json:"remaining_nanos"`
	OverrunNanos   uint64      `json:"overrun_nanos"`
	TotalUSD       float64     `json:"total_usd"`
	BudgetUSD      *float64    `json:"budget_usd"`
	RemainingUSD   *float64    `json:"remaining_usd"`
	Calls          uint64      `json:"calls"`
	RefusedCalls   uint64      `json:"refused_calls"`
	EstimatedCalls uint64      `json:"estimated_calls"`
	Usage          Usage       `json:"usage"`
	ByModel        []ModelCost `json:"by_model"`
	ByStep         []StepCost  `json:"by_step"`
	// PriceTable names the prices the engine uses: the built-in table's source and date, and
	// any price files loaded over it.
	PriceTable string `json:"price_table"`
}

// Breakdown reads where the money went, now.
func (x *Execution) Breakdown() (Breakdown, error) {
	var out *C.char
	var b Breakdown
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_execution_breakdown_json(h, &out) }); err != nil {
		return b, err
	}
	return b, takeJSON(out, &b)
}

// CallRecord is one tracked call as recorded.
type CallRecord struct {
	ExecutionID    string  `json:"execution_id"`
	Seq            uint64  `json:"seq"`
	Step           string  `json:"step"`
	Provider       string  `json:"provider"`
	RequestedModel string  `json:"requested_model"`
	Model          *string `json:"model"`
	Usage          Usage   `json:"usage"`
	CostNanos      uint64  `json:"cost_nanos"`
	ReservedNanos  uint64  `json:"reserved_nanos"`
	OverrunNanos   uint64  `json:"overrun_nanos"`
	Estimated      bool    `json:"estimated"`
	UsageMissing   bool    `json:"usage_missing"`
	Stream         bool    `json:"stream"`
	Status         string  `json:"status"`
	Error          *string `json:"error"`
	LatencyMs      uint64  `json:"latency_ms"`
	// Attempt of a retried call this was (1: the first, or a call never retried), and why it
	// was made.
	Attempt     uint32  `json:"attempt"`
	RetryReason *string `json:"retry_reason"`
}

// Calls reads the execution's calls in order.
func (x *Execution) Calls() ([]CallRecord, error) {
	var out *C.char
	var calls []CallRecord
	if err := x.with(func(h *C.wflo_execution) C.wflo_status { return C.wflo_execution_calls_json(h, &out) }); err != nil {
		return nil, err
	}
	return calls, takeJSON(out, &calls)
}

// Scope is a step or agent scope of an execution; calls made on it count toward its own
// limit (if any) and every limit above it.
type Scope struct {
	exec *Execution
	mu   sync.RWMutex
	ptr  *C.wflo_scope
}

// Scope returns the step scope called label, created on first use; budgetUSD (nil: none)
// gives it a limit of its own inside the execution's — wflo.USD(0) is a limit of zero.
func (x *Execution) Scope(label string, budgetUSD *float64) (*Scope, error) {
	return x.openScope(label, budgetUSD, func(h *C.wflo_execution, p *C.char, n C.size_t, b C.int64_t, out **C.wflo_scope) C.wflo_status {
		return C.wflo_execution_scope(h, p, n, b, out)
	})
}

// Child returns the scope called label nested in s, created on first use: its calls count
// toward its own limit (budgetUSD, nil: none), s's and every limit above. Labels are unique
// within an execution: the same label returns the same scope wherever it is asked for.
func (s *Scope) Child(label string, budgetUSD *float64) (*Scope, error) {
	child, err := s.exec.openScope(label, budgetUSD, func(_ *C.wflo_execution, p *C.char, n C.size_t, b C.int64_t, out **C.wflo_scope) C.wflo_status {
		return C.wflo_scope_child(s.ptr, p, n, b, out)
	})
	runtime.KeepAlive(s) // s's handle must outlive the call that reads it
	return child, err
}

// openScope converts the label and budget, runs open (a C call that makes a scope handle) on
// the live execution, and wraps the handle, freed when the Scope is collected.
func (x *Execution) openScope(label string, budgetUSD *float64,
	open func(*C.wflo_execution, *C.char, C.size_t, C.int64_t, **C.wflo_scope) C.wflo_status) (*Scope, error) {
	budget, err := optionalBudget(budgetUSD)
	if err != nil {
		return nil, err
	}
	var ptr *C.wflo_scope
	p, n := cstr(label)
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return open(h, p, n, C.int64_t(budget), &ptr)
	}); err != nil {
		return nil, err
	}
	s := &Scope{exec: x, ptr: ptr}
	runtime.AddCleanup(s, func(p *C.wflo_scope) { C.wflo_scope_free(p) }, ptr)
	return s, nil
}

// USD returns a pointer to an amount in dollars, for the optional budgets
// (ExecutionOptions.BudgetUSD, Execution.Scope, Engine.DefineSharedScope): nil is no limit,
// wflo.USD(0) a budget of zero.
func USD(dollars float64) *float64 { return &dollars }

// optionalBudget converts a budget in USD for the C ABI: nil is "no limit" (-1); any amount
// (0, NaN and negatives included) goes through the engine's checks.
func optionalBudget(usd *float64) (int64, error) {
	if usd == nil {
		return -1, nil
	}
	n, err := USDToNanos(*usd)
	return int64(n), err
}

type ctxKey struct{}

type ctxValue struct {
	exec  *Execution
	scope *Scope
}

// WithExecution returns a context that carries the execution: calls metered with it (by
// Middleware, or ExecutionFrom) are attributed to it, however deep in the code they happen.
func WithExecution(ctx context.Context, x *Execution) context.Context {
	return context.WithValue(ctx, ctxKey{}, ctxValue{exec: x})
}

// WithScope returns a context whose calls go to scope (and its execution).
func WithScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, ctxKey{}, ctxValue{exec: s.exec, scope: s})
}

// ExecutionFrom returns the execution (and scope, when one was set) the context carries.
func ExecutionFrom(ctx context.Context) (*Execution, *Scope, bool) {
	v, ok := ctx.Value(ctxKey{}).(ctxValue)
	return v.exec, v.scope, ok && v.exec != nil
}
