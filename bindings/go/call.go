package wflo

/*
#include <stdlib.h>
#include "wflo.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
	"unsafe"
)

// CallRequest is what is known about a call before it is made.
type CallRequest struct {
	Model    string
	Provider string
	// InputTokens of the prompt (CountChatTokens).
	InputTokens uint64
	// InputEstimated: nil decides by the model's tokenizer.
	InputEstimated *bool
	// MaxOutputTokens is the request's max_tokens; 0: the model's maximum.
	MaxOutputTokens uint64
	// CacheWrite: "", "5m" or "1h" when the request writes its prompt to a cache.
	CacheWrite string
	Stream     bool
	// ClampMaxTokens lowers max_tokens to what the budget allows instead of refusing.
	ClampMaxTokens bool
}

// Reservation is budget held for one call: Settle it with the provider's usage or Release
// it; Close releases an unsettled one (recorded as aborted). Safe for concurrent use.
type Reservation struct {
	mu      sync.Mutex
	ptr     *C.wflo_reservation
	cleanup runtime.Cleanup
}

// Reserve reserves the worst case of a call on the execution's own scope. A call that could
// overspend returns a *BudgetExceededError (errors.Is(err, ErrBudgetExceeded)): do not send it.
func (x *Execution) Reserve(req CallRequest) (*Reservation, error) { return reserve(x, nil, req, nil) }

// Reserve reserves on this scope (and every scope above it).
func (s *Scope) Reserve(req CallRequest) (*Reservation, error) { return reserve(s.exec, s, req, nil) }

// reserve reserves req; with a retrier (a retry of a call), a refusal is re-worded by it in
// the same locked section, before the thread's last error is read.
func reserve(x *Execution, s *Scope, req CallRequest, retrier *C.wflo_retrier) (*Reservation, error) {
	var cr C.wflo_call_request
	var pin runtime.Pinner
	defer pin.Unpin()
	if req.Model != "" {
		pin.Pin(unsafe.StringData(req.Model))
		cr.model, cr.model_len = cstr(req.Model)
	}
	if req.Provider != "" {
		pin.Pin(unsafe.StringData(req.Provider))
		cr.provider, cr.provider_len = cstr(req.Provider)
	}
	cr.input_tokens = C.uint64_t(req.InputTokens)
	switch {
	case req.InputEstimated == nil:
		cr.input_count = C.WFLO_COUNT_AUTO
	case *req.InputEstimated:
		cr.input_count = C.WFLO_COUNT_ESTIMATED
	default:
		cr.input_count = C.WFLO_COUNT_EXACT
	}
	cr.max_output_tokens = C.uint64_t(req.MaxOutputTokens)
	switch req.CacheWrite {
	case "":
		cr.cache_write = C.WFLO_CACHE_WRITE_NONE
	case "5m":
		cr.cache_write = C.WFLO_CACHE_WRITE_5M
	case "1h":
		cr.cache_write = C.WFLO_CACHE_WRITE_1H
	default:
		return nil, invalid("invalid argument: CacheWrite must be \"\", \"5m\" or \"1h\", got %q", req.CacheWrite)
	}
	cr.stream = C.bool(req.Stream)
	cr.clamp_max_tokens = C.bool(req.ClampMaxTokens)
	var ptr *C.wflo_reservation
	var scope *C.wflo_scope
	if s != nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		scope = s.ptr
	}
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return refusedBy(retrier, C.wflo_reserve(h, scope, &cr, &ptr))
	}); err != nil {
		return nil, err
	}
	return newReservation(ptr), nil
}

// RequestOptions is what a caller knows about a provider request besides its body. Every
// field is optional.
type RequestOptions struct {
	// BaseURL of the client ("https://api.x.ai/v1"): names the provider.
	BaseURL string `json:"base_url,omitempty"`
	// Provider, when known without a URL; the base URL wins when both say.
	Provider string `json:"provider,omitempty"`
	// Model, when the body does not name it (Gemini names it in the URL).
	Model string `json:"model,omitempty"`
	// Stream, when the body does not say; nil: as the body says.
	Stream *bool `json:"stream,omitempty"`
	// ClampMaxTokens lowers the output limit to what the budget allows instead of refusing.
	ClampMaxTokens bool `json:"clamp_max_tokens,omitempty"`
	// Attempt of a retried call this is (a Decision's Attempt; 0: the first), recorded with
	// the call. Retrier.ReserveRequest fills it in.
	Attempt int `json:"attempt,omitempty"`
	// RetryReason: why this attempt is made (the Decision's Reason), recorded with the call.
	RetryReason string `json:"retry_reason,omitempty"`
	// Agent the call is made for: charged to the execution's agent scope "agent:" + Agent
	// (see WithAgent, which fills it in for Middleware and Transport).
	Agent string `json:"agent,omitempty"`
	// Upfront: the request is what a tracker that cannot see the call was told
	// (TrackLLMCall); a refusal then says how the call was sized and how to make it precise.
	Upfront bool `json:"upfront,omitempty"`
}

// ReserveRequest reads a provider request body (format "openai_chat", "openai_responses",
// "anthropic", "gemini", "langchain" or "ai_sdk"; opts may be nil), reserves its worst case on
// the execution's own scope and returns the reservation with the body to SEND: the output
// limit the reservation covers written in, include_usage asked for on an OpenAI chat stream.
// A call that could overspend returns a *BudgetExceededError: do not send it.
func (x *Execution) ReserveRequest(format string, body []byte, opts *RequestOptions) (*Reservation, []byte, error) {
	return reserveRequest(x, nil, format, body, opts, nil)
}

// ReserveRequest reserves a provider request on this scope (and every scope above it).
func (s *Scope) ReserveRequest(format string, body []byte, opts *RequestOptions) (*Reservation, []byte, error) {
	return reserveRequest(s.exec, s, format, body, opts, nil)
}

// reserveRequest reserves a request; with a retrier, as reserve.
func reserveRequest(x *Execution, s *Scope, format string, body []byte, opts *RequestOptions,
	retrier *C.wflo_retrier) (*Reservation, []byte, error) {
	var options []byte
	if opts != nil {
		var err error
		if options, err = json.Marshal(opts); err != nil {
			return nil, nil, invalid("invalid argument: request options do not marshal to JSON: %v", err)
		}
	}
	fp, fn := cstr(format)
	bp, bn := cbytes(body)
	op, on := cbytes(options)
	var scope *C.wflo_scope
	if s != nil {
		s.mu.RLock()
		defer s.mu.RUnlock()
		scope = s.ptr
	}
	var ptr *C.wflo_reservation
	var out *C.char
	if err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return refusedBy(retrier, C.wflo_reserve_request(h, scope, fp, fn, bp, bn, op, on, &ptr, &out))
	}); err != nil {
		return nil, nil, err
	}
	sent := []byte(takeString(out))
	return newReservation(ptr), sent, nil
}

func newReservation(ptr *C.wflo_reservation) *Reservation {
	r := &Reservation{ptr: ptr}
	r.cleanup = runtime.AddCleanup(r, func(p *C.wflo_reservation) { C.wflo_reservation_free(p) }, ptr)
	return r
}

func (r *Reservation) with(f func(*C.wflo_reservation) C.wflo_status) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return &Error{Code: CodeConflict, Message: "conflict: this reservation was already closed"}
	}
	ptr := r.ptr
	return call(func() C.wflo_status { return f(ptr) })
}

// AmountNanos is the worst case held.
func (r *Reservation) AmountNanos() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint64(C.wflo_reservation_amount_nanos(r.ptr))
}

// MaxOutputTokens is the output cap the reservation covers: send the request with it.
func (r *Reservation) MaxOutputTokens() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint64(C.wflo_reservation_max_output_tokens(r.ptr))
}

// Settled is what a settled (or recorded) call came to. The full record (step, model,
// status, times) is in Execution.Calls.
type Settled struct {
	Seq           uint64
	CostNanos     uint64
	ReservedNanos uint64
	OverrunNanos  uint64
	Usage         Usage
	// Estimated: the usage is the tokenizer's estimate (a stream without the provider's usage).
	Estimated    bool
	UsageMissing bool
}

func settled(s C.wflo_settled) Settled {
	return Settled{Seq: uint64(s.seq), CostNanos: uint64(s.cost_nanos), ReservedNanos: uint64(s.reserved_nanos),
		OverrunNanos: uint64(s.overrun_nanos), Usage: usageFromC(s.usage), Estimated: bool(s.estimated),
		UsageMissing: bool(s.usage_missing)}
}

// Settle books the provider's usage.
func (r *Reservation) Settle(u Usage) (Settled, error) {
	var out C.wflo_settled
	cu := u.c()
	err := r.with(func(h *C.wflo_reservation) C.wflo_status { return C.wflo_reservation_settle(h, &cu, &out) })
	return settled(out), err
}

// SettleJSON books the usage in a provider's response body (format as in ParseUsage). Bad
// JSON leaves the reservation held.
func (r *Reservation) SettleJSON(format string, body []byte) (Settled, error) {
	var out C.wflo_settled
	fp, fn := cstr(format)
	bp, bn := cbytes(body)
	err := r.with(func(h *C.wflo_reservation) C.wflo_status {
		return C.wflo_reservation_settle_json(h, fp, fn, bp, bn, &out)
	})
	return settled(out), err
}

// SettleResult books whatever the call returned (format as for ReserveRequest, or "auto"):
// the usage in the result, else its generated text (every choice, tool calls) counted and
// flagged estimated. status is how the call ended: "ok" ("" too), or "error" / "aborted" for
// what a call that failed midway had produced (booked, since the provider billed it). Bad JSON
// leaves the reservation held.
func (r *Reservation) SettleResult(format string, result []byte, status string) (Settled, error) {
	var out C.wflo_settled
	fp, fn := cstr(format)
	rp, rn := cbytes(result)
	sp, sn := cstr(status)
	err := r.with(func(h *C.wflo_reservation) C.wflo_status {
		return C.wflo_reservation_settle_result(h, fp, fn, rp, rn, sp, sn, &out)
	})
	return settled(out), err
}

// SettleText books a call whose usage never came from the text it generated: the prompt as
// reserved, the output counted, flagged estimated. status: "ok", "error" or "aborted"
// ("": "ok").
func (r *Reservation) SettleText(text, status string) (Settled, error) {
	var out C.wflo_settled
	tp, tn := cstr(text)
	sp, sn := cstr(status)
	err := r.with(func(h *C.wflo_reservation) C.wflo_status {
		return C.wflo_reservation_settle_text(h, tp, tn, sp, sn, &out)
	})
	return settled(out), err
}

// SettleStream books a finished or cut stream; without the provider's usage the output is
// estimated from the streamed text (flagged), never recorded as free.
func (r *Reservation) SettleStream(s *Stream, status string) (Settled, error) {
	var out C.wflo_settled
	sp, sn := cstr(status)
	s.mu.Lock()
	defer s.mu.Unlock()
	stream := s.ptr
	err := r.with(func(h *C.wflo_reservation) C.wflo_status {
		return C.wflo_reservation_settle_stream(h, stream, sp, sn, &out)
	})
	return settled(out), err
}

// Release gives the reservation back without cost ("error" or "aborted").
func (r *Reservation) Release(status, reason string) error {
	sp, sn := cstr(status)
	rp, rn := cstr(reason)
	return r.with(func(h *C.wflo_reservation) C.wflo_status { return C.wflo_reservation_release(h, sp, sn, rp, rn) })
}

// Close frees the reservation; an unsettled one is released and recorded as aborted.
func (r *Reservation) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		r.cleanup.Stop()
		C.wflo_reservation_free(r.ptr)
		r.ptr = nil
	}
}

// Stream accumulates a streamed response's events.
type Stream struct {
	mu      sync.Mutex
	ptr     *C.wflo_stream
	cleanup runtime.Cleanup
}

// NewStream starts an accumulator for "openai_chat", "openai_responses", "anthropic" or
// "gemini" events.
func NewStream(format string) (*Stream, error) {
	var ptr *C.wflo_stream
	p, n := cstr(format)
	if err := call(func() C.wflo_status { return C.wflo_stream_new(p, n, &ptr) }); err != nil {
		return nil, err
	}
	s := &Stream{ptr: ptr}
	s.cleanup = runtime.AddCleanup(s, func(p *C.wflo_stream) { C.wflo_stream_free(p) }, ptr)
	return s, nil
}

// Push feeds the payload of one `data:` line.
func (s *Stream) Push(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ptr := s.ptr
	p, n := cbytes(data)
	return call(func() C.wflo_status { return C.wflo_stream_push(ptr, p, n) })
}

// Usage is the usage reported so far (ErrNotFound when none yet).
func (s *Stream) Usage() (Usage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out C.wflo_usage
	ptr := s.ptr
	err := call(func() C.wflo_status { return C.wflo_stream_usage(ptr, &out) })
	return usageFromC(out), err
}

// StreamState is what a stream has told so far.
type StreamState struct {
	// Usage reported so far (nil when none).
	Usage *Usage `json:"usage"`
	// Complete once the provider's final usage arrived.
	Complete bool `json:"complete"`
	// Text streamed so far (what an estimate counts).
	Text string `json:"text"`
}

// State reads what the stream has told so far.
func (s *Stream) State() (StreamState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out *C.char
	var st StreamState
	ptr := s.ptr
	if err := call(func() C.wflo_status { return C.wflo_stream_state_json(ptr, &out) }); err != nil {
		return st, err
	}
	return st, takeJSON(out, &st)
}

// Close frees the accumulator.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ptr != nil {
		s.cleanup.Stop()
		C.wflo_stream_free(s.ptr)
		s.ptr = nil
	}
}

// RecordCall records a call made WITHOUT a reservation from its raw usage JSON.
func (x *Execution) RecordCall(model, format string, usageJSON []byte) (Settled, error) {
	var out C.wflo_settled
	mp, mn := cstr(model)
	fp, fn := cstr(format)
	up, un := cbytes(usageJSON)
	err := x.with(func(h *C.wflo_execution) C.wflo_status {
		return C.wflo_record_call_json(h, nil, mp, mn, fp, fn, up, un, &out)
	})
	return settled(out), err
}
