// Package wflo is the Go face of the wflo engine: it meters every LLM call, refuses a call
// BEFORE it could overspend its USD budget, records what each execution did and cost, and
// keeps checkpoints it can roll back to. It calls libwflo (the Rust engine) through cgo.
//
// The module carries the C header it was written against (include/wflo.h); the library
// itself is found with pkg-config (package "wflo"). Install libwflo once from a checkout of
// the wflo repository, then tell pkg-config where it went:
//
//	make install PREFIX=$HOME/.local    # or: sudo make install (PREFIX=/usr/local)
//	export PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig
//	go build
//
// No CGO_CFLAGS or CGO_LDFLAGS are needed. The binary links libwflo.so dynamically; when the
// prefix is not a system library directory, wflo.pc carries an rpath to it, so the program
// runs without LD_LIBRARY_PATH. For a binary that needs no libwflo.so at run time, point
// PKG_CONFIG_PATH at a wflo.pc whose Libs names libwflo.a and its Libs.private
// (`make test-go` writes one for the debug build).
//
// The current execution travels in a context.Context (WithExecution); Middleware meters the
// official openai-go and anthropic-sdk-go clients (option.WithMiddleware in either) and
// Transport any net/http call in the OpenAI or Anthropic wire format; WithAgent charges a
// context's calls to an agent's own scope of the execution.
//
// Checkpoints: Execution.Checkpoint saves any value that marshals to JSON;
// Execution.CheckpointBinary saves bytes in the caller's own format (msgpack, protobuf, …)
// named by a content type, stored as they are (CheckpointBytes: without one, named
// application/octet-stream by the engine). RollbackToCheckpointAny, LatestCheckpointAny
// and CheckpointStateAny return a CheckpointState of either kind (IsBinary); the JSON-only
// RollbackToCheckpoint and LatestCheckpoint refuse a binary state with ErrInvalidArgument
// before anything changes.
//
// Observability: Engine.MetricsText is the Prometheus text for a /metrics endpoint;
// Engine.OnThreshold hears budget alerts (thresholds of a limit, a soft budget: see
// ExecutionOptions.AlertThresholds and SoftBudgetUSD); StartExecutionContext joins the trace
// of the context's OpenTelemetry span (or ExecutionOptions.TraceParent), and
// Execution.TraceID says which; SetLogger sends the engine's events to log/slog — with
// WFLO_LOG set (off, error, warn, info, debug, trace) and no SetLogger, they go to
// slog.Default() at that level.
//
// Resilience: Retry runs a call again after a retryable failure, asking the engine (a
// RetryPolicy, Engine.Retrier) whether and how long to wait, each attempt reserved on its own;
// WithRetries gives the middleware the same loop. Engine.Breaker is a named circuit breaker
// whose open state refuses calls with a *CircuitOpenError; Breaker.Call runs a function
// through it. IsRefusal is the engine's rule for wflo's own refusals, which a breaker does
// not count and a retry never retries. Engine.Resource is a named lock or semaphore held in
// the store — shared by every process on it — whose Acquire fails with a *ResourceBusyError
// after its timeout (WithLock holds one around a function).
// Execution.RequireApproval asks a person before a gate and waits: `wflo approve ID`,
// Engine.Approve or Engine.Deny decide it, and a denial is a *ApprovalDeniedError.
// ExecutionOptions.ApprovalAboveUSD gates costly calls: a call whose worst case passes it meets
// a numbered gate ("call #1 over $0.50") before it reserves, and the reserving goroutine
// blocks until a person decides (approved: it goes on; denied: *ApprovalDeniedError, nothing
// reserved). Engine.SetApprovalWait(true) makes such a reservation return a
// *ApprovalPendingError naming the approval at once instead — wait for it with
// Execution.WaitForApproval (a context bounds it) and reserve again. Engine.Approval reads one
// approval by id.
package wflo

/*
#cgo CPPFLAGS: -I${SRCDIR}/include
#cgo pkg-config: wflo
#include <stdlib.h>
#include "wflo.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"unsafe"
)

// cstr passes a Go string to C as pointer + length without copying; C never keeps it.
func cstr(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// emptyString is what cstrGiven points to for "": a pointer that is not NULL.
var emptyString byte

// cstrGiven is cstr for an argument where NULL means "not given": an empty string still
// crosses as a (non-NULL) empty string, so the engine refuses it instead of reading an omission.
func cstrGiven(s string) (*C.char, C.size_t) {
	if len(s) == 0 {
		return (*C.char)(unsafe.Pointer(&emptyString)), 0
	}
	return cstr(s)
}

// cbytes passes a byte slice to C as pointer + length.
func cbytes(b []byte) (*C.char, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.char)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

// takeString copies a string libwflo returned and frees it.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	s := C.GoString(p)
	C.wflo_string_free(p)
	return s
}

// takeJSON decodes a JSON string libwflo returned into v and frees it.
func takeJSON(p *C.char, v any) error {
	text := takeString(p)
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return &Error{Code: CodeInternal, Message: "libwflo returned JSON this package cannot read: " + err.Error()}
	}
	return nil
}

// check turns a status into nil or the typed error for the thread's last error. The OS
// thread is locked around each call so the thread-local message belongs to this call.
func check(status C.wflo_status) error {
	if status == C.WFLO_STATUS_OK {
		return nil
	}
	return lastError(int(status), C.GoString(C.wflo_last_error_json()))
}

// call runs one libwflo function on a locked OS thread and returns its error.
func call(f func() C.wflo_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return check(f())
}

// Version is the version of the libwflo linked in.
func Version() string { return C.GoString(C.wflo_version()) }
