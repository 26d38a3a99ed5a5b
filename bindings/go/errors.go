package wflo

import (
	"encoding/json"
	"fmt"
	"time"
)

// Code is one of the engine's stable error codes.
type Code int

// The stable error codes (the same numbers as the C ABI's wflo_status).
const (
	CodeInvalidArgument Code = 1
	CodeUnknownModel    Code = 2
	CodeBudgetExceeded  Code = 3
	CodeNotFound        Code = 4
	CodeConflict        Code = 5
	CodeStorage         Code = 6
	CodeClosed          Code = 7
	CodeInternal        Code = 8
	CodeCircuitOpen     Code = 9
	CodeResourceBusy    Code = 10
	CodeApprovalDenied  Code = 11
	CodeApprovalPending Code = 12
	CodeCallLimit       Code = 13
)

var codeNames = map[Code]string{
	CodeInvalidArgument: "INVALID_ARGUMENT", CodeUnknownModel: "UNKNOWN_MODEL",
	CodeBudgetExceeded: "BUDGET_EXCEEDED", CodeNotFound: "NOT_FOUND", CodeConflict: "CONFLICT",
	CodeStorage: "STORAGE", CodeClosed: "CLOSED", CodeInternal: "INTERNAL", CodeCircuitOpen: "CIRCUIT_OPEN",
	CodeResourceBusy: "RESOURCE_BUSY", CodeApprovalDenied: "APPROVAL_DENIED",
	CodeApprovalPending: "APPROVAL_PENDING", CodeCallLimit: "CALL_LIMIT",
}

// String is the code's stable name ("BUDGET_EXCEEDED").
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CODE_%d", int(c))
}

// Error is an engine error. Compare with the sentinels: errors.Is(err, wflo.ErrBudgetExceeded).
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return "wflo: " + e.Message }

// Is matches sentinels by code, so errors.Is works on every typed error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument}
	ErrUnknownModel    = &Error{Code: CodeUnknownModel}
	ErrBudgetExceeded  = &Error{Code: CodeBudgetExceeded}
	ErrNotFound        = &Error{Code: CodeNotFound}
	ErrConflict        = &Error{Code: CodeConflict}
	ErrStorage         = &Error{Code: CodeStorage}
	ErrClosed          = &Error{Code: CodeClosed}
	ErrInternal        = &Error{Code: CodeInternal}
	ErrCircuitOpen     = &Error{Code: CodeCircuitOpen}
	ErrResourceBusy    = &Error{Code: CodeResourceBusy}
	ErrApprovalDenied  = &Error{Code: CodeApprovalDenied}
	ErrApprovalPending = &Error{Code: CodeApprovalPending}
	ErrCallLimit       = &Error{Code: CodeCallLimit}
)

// BudgetExceededError says a call was refused before it was made: it could have passed the
// limit of Scope. Amounts are nano-USD; the *USD methods convert.
type BudgetExceededError struct {
	Message        string
	Scope          string
	LimitNanos     uint64
	SpentNanos     uint64
	ReservedNanos  uint64
	RequestedNanos uint64
	// RetryNote, for a retry the budget refused (Retrier.ReserveRequest), says which attempt
	// was not sent and what failed before it; Message already ends with it. "" otherwise.
	RetryNote string
}

func (e *BudgetExceededError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrBudgetExceeded) true.
func (e *BudgetExceededError) Is(target error) bool { return target == ErrBudgetExceeded }

func (e *BudgetExceededError) LimitUSD() float64     { return NanosToUSD(e.LimitNanos) }
func (e *BudgetExceededError) SpentUSD() float64     { return NanosToUSD(e.SpentNanos) }
func (e *BudgetExceededError) RequestedUSD() float64 { return NanosToUSD(e.RequestedNanos) }

// UnknownModelError names the model and up to three close names.
type UnknownModelError struct {
	Message     string
	Model       string
	Suggestions []string
}

func (e *UnknownModelError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrUnknownModel) true.
func (e *UnknownModelError) Is(target error) bool { return target == ErrUnknownModel }

// CircuitOpenError says a call was refused before anything was reserved or sent: the circuit
// breaker Name is open after Failures failures, and lets trial calls through in RetryIn.
// Match it with errors.As, or errors.Is(err, ErrCircuitOpen).
type CircuitOpenError struct {
	Message  string
	Name     string
	Failures uint32
	RetryIn  time.Duration
}

func (e *CircuitOpenError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrCircuitOpen) true.
func (e *CircuitOpenError) Is(target error) bool { return target == ErrCircuitOpen }

// ResourceBusyError says no slot of Resource freed before the acquisition's timeout: it
// waited Waited, while Holders held it (each "workflow (host:pid)"). Match it with errors.As,
// or errors.Is(err, ErrResourceBusy).
type ResourceBusyError struct {
	Message  string
	Resource string
	Waited   time.Duration
	Holders  []string
}

func (e *ResourceBusyError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrResourceBusy) true.
func (e *ResourceBusyError) Is(target error) bool { return target == ErrResourceBusy }

// ApprovalDeniedError says the approval ID of gate Gate was denied — By (a person) with Note —
// or, TimedOut, not decided before its timeout under "on_timeout": "deny" (By is then
// "timeout"). By and Note are "" when none was recorded. Match it with errors.As, or
// errors.Is(err, ErrApprovalDenied).
type ApprovalDeniedError struct {
	Message  string
	ID       string
	Gate     string
	TimedOut bool
	By       string
	Note     string
}

func (e *ApprovalDeniedError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrApprovalDenied) true.
func (e *ApprovalDeniedError) Is(target error) bool { return target == ErrApprovalDenied }

// ApprovalPendingError says a call over the execution's approval threshold
// (ExecutionOptions.ApprovalAboveUSD) met gate Gate and approval ID is not decided yet:
// nothing was reserved or sent. What is the call as the approver sees it. Only an engine that
// returns pending approvals (Engine.SetApprovalWait(true)) returns it — by default a
// reservation waits on its goroutine. Wait with Execution.WaitForApproval(ctx, ID, -1) and
// reserve again: the same gate finds the same approval, now decided. It is a refusal
// (IsRefusal). Match it with errors.As, or errors.Is(err, ErrApprovalPending).
type ApprovalPendingError struct {
	Message string
	ID      string
	Gate    string
	What    string
}

func (e *ApprovalPendingError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrApprovalPending) true.
func (e *ApprovalPendingError) Is(target error) bool { return target == ErrApprovalPending }

// CallLimitError says the execution Execution made as many LLM calls as its MaxCalls
// (ExecutionOptions.MaxCalls, the original SDK's max_iterations) allows: this call was refused
// before anything was reserved or sent. It is a refusal (IsRefusal). Match it with errors.As,
// or errors.Is(err, ErrCallLimit).
type CallLimitError struct {
	Message   string
	Execution string
	MaxCalls  uint64
}

func (e *CallLimitError) Error() string { return "wflo: " + e.Message }

// Is makes errors.Is(err, ErrCallLimit) true.
func (e *CallLimitError) Is(target error) bool { return target == ErrCallLimit }

// coded is every wflo error, whatever its type: its code (IsRefusal asks the engine about it).
type coded interface{ wfloCode() Code }

func (e *Error) wfloCode() Code                { return e.Code }
func (e *BudgetExceededError) wfloCode() Code  { return CodeBudgetExceeded }
func (e *UnknownModelError) wfloCode() Code    { return CodeUnknownModel }
func (e *CircuitOpenError) wfloCode() Code     { return CodeCircuitOpen }
func (e *ResourceBusyError) wfloCode() Code    { return CodeResourceBusy }
func (e *ApprovalDeniedError) wfloCode() Code  { return CodeApprovalDenied }
func (e *ApprovalPendingError) wfloCode() Code { return CodeApprovalPending }
func (e *CallLimitError) wfloCode() Code       { return CodeCallLimit }

func lastError(status int, detailsJSON string) error {
	var d struct {
		Message        string   `json:"message"`
		Scope          string   `json:"scope"`
		LimitNanos     uint64   `json:"limit_nanos"`
		SpentNanos     uint64   `json:"spent_nanos"`
		ReservedNanos  uint64   `json:"reserved_nanos"`
		RequestedNanos uint64   `json:"requested_nanos"`
		Model          string   `json:"model"`
		Suggestions    []string `json:"suggestions"`
		RetryNote      string   `json:"retry_note"`
		Name           string   `json:"name"`
		Failures       uint32   `json:"failures"`
		RetryInMS      uint64   `json:"retry_in_ms"`
		Resource       string   `json:"resource"`
		WaitedMS       uint64   `json:"waited_ms"`
		Holders        []string `json:"holders"`
		ID             string   `json:"id"`
		Gate           string   `json:"gate"`
		TimedOut       bool     `json:"timed_out"`
		What           string   `json:"what"`
		By             *string  `json:"by"`
		Note           *string  `json:"note"`
		Execution      string   `json:"execution"`
		MaxCalls       uint64   `json:"max_calls"`
	}
	if err := json.Unmarshal([]byte(detailsJSON), &d); err != nil || d.Message == "" {
		d.Message = fmt.Sprintf("libwflo failed with status %d", status)
	}
	base := Error{Code: Code(status), Message: d.Message}
	switch base.Code {
	case CodeBudgetExceeded:
		return &BudgetExceededError{Message: d.Message, Scope: d.Scope, LimitNanos: d.LimitNanos, SpentNanos: d.SpentNanos,
			ReservedNanos: d.ReservedNanos, RequestedNanos: d.RequestedNanos, RetryNote: d.RetryNote}
	case CodeUnknownModel:
		return &UnknownModelError{Message: d.Message, Model: d.Model, Suggestions: d.Suggestions}
	case CodeCircuitOpen:
		return &CircuitOpenError{Message: d.Message, Name: d.Name, Failures: d.Failures,
			RetryIn: time.Duration(d.RetryInMS) * time.Millisecond}
	case CodeResourceBusy:
		return &ResourceBusyError{Message: d.Message, Resource: d.Resource,
			Waited: time.Duration(d.WaitedMS) * time.Millisecond, Holders: d.Holders}
	case CodeApprovalDenied:
		return &ApprovalDeniedError{Message: d.Message, ID: d.ID, Gate: d.Gate, TimedOut: d.TimedOut,
			By: deref(d.By), Note: deref(d.Note)}
	case CodeApprovalPending:
		return &ApprovalPendingError{Message: d.Message, ID: d.ID, Gate: d.Gate, What: d.What}
	case CodeCallLimit:
		return &CallLimitError{Message: d.Message, Execution: d.Execution, MaxCalls: d.MaxCalls}
	}
	return &base
}

func invalid(format string, args ...any) error {
	return &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// deref is *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
