package wflo

// Resource contention: named locks and semaphores held in the engine's store, so every
// process on that store shares them. The rules — who gets a slot, how long a hold lives, what
// counts as contention — are the engine's (libwflo's contention module); this file converts
// Go values to and from them and lets a context.Context bound the wait.

/*
#include "wflo.h"
*/
import "C"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// LockConfig is a resource's settings; each zero field keeps the engine's default. It
// converts to and from the engine's JSON (json.Marshal, json.Unmarshal: "max_concurrent",
// "timeout_ms", "contention_threshold_ms", "lease_ms"). Durations cross to the engine in whole
// milliseconds, rounded up.
type LockConfig struct {
	// MaxConcurrent: how many may hold the resource at once, 1 to 10000 (0: 1, a lock).
	MaxConcurrent int
	// Timeout: how long Acquire with ConfiguredTimeout waits for a slot before it fails with a
	// *ResourceBusyError (0: 30 s).
	Timeout time.Duration
	// ContentionThreshold: a wait longer than this counts as contention in the statistics,
	// and is logged with who held the resource (0: 5 s).
	ContentionThreshold time.Duration
	// Lease: how long a hold lives unless renewed (Permit.Renew); a holder that dies frees its
	// slot when the lease ends (0: the engine's lease).
	Lease time.Duration
}

// lockJSON is LockConfig as the engine reads it; absent keys keep its defaults.
type lockJSON struct {
	MaxConcurrent         int    `json:"max_concurrent,omitempty"`
	TimeoutMS             uint64 `json:"timeout_ms,omitempty"`
	ContentionThresholdMS uint64 `json:"contention_threshold_ms,omitempty"`
	LeaseMS               uint64 `json:"lease_ms,omitempty"`
}

// MarshalJSON writes the settings as the engine's JSON; negative durations are
// ErrInvalidArgument.
func (c LockConfig) MarshalJSON() ([]byte, error) {
	j := lockJSON{MaxConcurrent: c.MaxConcurrent}
	var err error
	for _, f := range []struct {
		name string
		d    time.Duration
		out  *uint64
	}{{"Timeout", c.Timeout, &j.TimeoutMS}, {"ContentionThreshold", c.ContentionThreshold, &j.ContentionThresholdMS},
		{"Lease", c.Lease, &j.LeaseMS}} {
		if f.d < 0 {
			return nil, invalid("invalid argument: resource lock: %s is negative (%v)", f.name, f.d)
		}
		if *f.out, err = millis(f.name, f.d); err != nil {
			return nil, err
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the engine's JSON ({"max_concurrent": 2, "timeout_ms": 500}); unknown
// keys are ErrInvalidArgument, and so is an explicit 0 or null for a key whose 0 means "the
// default" here, except max_concurrent and lease_ms null, which are the defaults.
func (c *LockConfig) UnmarshalJSON(data []byte) error {
	var j struct {
		MaxConcurrent         int     `json:"max_concurrent"`
		TimeoutMS             *uint64 `json:"timeout_ms"`
		ContentionThresholdMS *uint64 `json:"contention_threshold_ms"`
		LeaseMS               *uint64 `json:"lease_ms"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return invalid("invalid argument: resource lock settings: %v", err)
	}
	var explicit map[string]json.RawMessage
	_ = json.Unmarshal(data, &explicit)
	for _, key := range []string{"timeout_ms", "contention_threshold_ms"} {
		if v, ok := explicit[key]; ok && (string(v) == "0" || string(v) == "null") {
			return invalid("invalid argument: resource lock: %s %s cannot be expressed as a LockConfig (0 is the default)", key, v)
		}
	}
	ms := func(p *uint64) time.Duration {
		if p == nil {
			return 0
		}
		return time.Duration(*p) * time.Millisecond
	}
	*c = LockConfig{MaxConcurrent: j.MaxConcurrent, Timeout: ms(j.TimeoutMS),
		ContentionThreshold: ms(j.ContentionThresholdMS), Lease: ms(j.LeaseMS)}
	return nil
}

// Resource is a named lock or semaphore of the engine's store: at most its MaxConcurrent
// holders at once, across every goroutine, Engine and process on that store. Acquire takes a
// slot. Safe for concurrent use. Close frees the handle (holds and statistics stay in the
// store); a cleanup frees a forgotten one.
type Resource struct {
	name    string
	config  LockConfig
	mu      sync.RWMutex
	ptr     *C.wflo_resource
	cleanup runtime.Cleanup
}

// Resource returns the store's resource called name (1 to 200 bytes) with config (nil: the
// defaults, a lock of one slot). The settings are this handle's: another handle (or process)
// may use the same name with others, and each acquisition follows its own handle's.
func (e *Engine) Resource(name string, config *LockConfig) (*Resource, error) {
	var cfg []byte
	r := &Resource{name: name}
	if config != nil {
		var err error
		if cfg, err = json.Marshal(config); err != nil {
			return nil, err
		}
		r.config = *config
	}
	np, nn := cstr(name)
	cp, cn := cbytes(cfg)
	var ptr *C.wflo_resource
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_resource(h, np, nn, cp, cn, &ptr) }); err != nil {
		return nil, err
	}
	r.ptr = ptr
	r.cleanup = runtime.AddCleanup(r, func(p *C.wflo_resource) { C.wflo_resource_free(p) }, ptr)
	return r, nil
}

// Name is the resource's name.
func (r *Resource) Name() string { return r.name }

func (r *Resource) with(f func(*C.wflo_resource) C.wflo_status) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return &Error{Code: CodeClosed, Message: "closed: the resource handle is closed"}
	}
	ptr := r.ptr
	return call(func() C.wflo_status { return f(ptr) })
}

// ConfiguredTimeout, as Acquire's timeout, waits as long as the resource's LockConfig.Timeout.
const ConfiguredTimeout time.Duration = -1

// Acquire takes a slot of the resource for workflowID (recorded as its holder), waiting up to
// timeout for one to free: ConfiguredTimeout (any negative value) waits the configured
// timeout, 0 does not wait. When none freed in time, it fails with a *ResourceBusyError
// (errors.Is(err, ErrResourceBusy)) saying who held it and how long it waited. Release the
// permit when done (WithLock does); its lease ends it otherwise.
//
// The engine's wait blocks an OS thread. ctx bounds it: a deadline sooner than the timeout
// shortens the engine's wait to it when this handle knows the timeout (timeout ≥ 0, or
// LockConfig.Timeout set) — the error is then both context.DeadlineExceeded and the
// *ResourceBusyError. Otherwise the end of ctx (a cancellation, or a deadline before the
// engine's default timeout) returns ctx.Err() at once, while the engine's wait goes on in the
// background up to its timeout — it cannot be told the slot is no longer wanted — and a slot
// it still obtains is released at once.
func (r *Resource) Acquire(ctx context.Context, workflowID string, timeout time.Duration) (*Permit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ms := int64(-1)
	known := timeout // the wait asked for, when this handle knows it
	if timeout < 0 {
		known = r.config.Timeout // 0: the engine's default, not known here
	}
	if timeout >= 0 {
		ms = ceilMillis(timeout)
	}
	capped := false
	if deadline, ok := ctx.Deadline(); ok && known > 0 {
		if left := time.Until(deadline); left < known {
			ms, capped = max(ceilMillis(left), 0), true
		}
	}
	wp, wn := cstr(workflowID)
	acquire := func() (*C.wflo_permit, error) {
		var p *C.wflo_permit
		err := r.with(func(h *C.wflo_resource) C.wflo_status {
			return C.wflo_resource_acquire(h, wp, wn, C.int64_t(ms), &p)
		})
		return p, err
	}
	wrap := func(p *C.wflo_permit, err error) (*Permit, error) {
		if err != nil {
			var busy *ResourceBusyError
			if capped && errors.As(err, &busy) {
				return nil, fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
			}
			return nil, err
		}
		return newPermit(r.name, p), nil
	}
	if ctx.Done() == nil { // never cancelled: wait here
		return wrap(acquire())
	}
	done := make(chan acquired, 1)
	go func() {
		p, err := acquire()
		done <- acquired{p, err}
	}()
	select {
	case res := <-done:
		return wrap(res.p, res.err)
	case <-ctx.Done():
		if capped && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wrap(finish(done)) // the engine's wait ends at this deadline too
		}
		go func() {
			if res := <-done; res.p != nil {
				C.wflo_permit_free(res.p) // releases the slot nobody waits for any more
			}
		}()
		return nil, ctx.Err()
	}
}

// acquired is what an acquisition in another goroutine returned.
type acquired struct {
	p   *C.wflo_permit
	err error
}

func finish(done <-chan acquired) (*C.wflo_permit, error) {
	res := <-done
	return res.p, res.err
}

// ceilMillis is d in whole milliseconds, rounded up.
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// ResourceHolder is one current hold of a resource.
type ResourceHolder struct {
	HoldID string
	// Holder is the process holding it: "host:pid".
	Holder     string
	WorkflowID string
	AcquiredAt time.Time
	// LeaseUntil: the hold ends then unless renewed.
	LeaseUntil time.Time
}

// ResourceStats are a resource's statistics, as every process on the store sees them, and
// its current holders.
type ResourceStats struct {
	Resource     string
	Acquisitions uint64
	// Contentions: acquisitions and timeouts whose wait passed the contention threshold.
	Contentions uint64
	// Timeouts: acquisitions that failed with a *ResourceBusyError.
	Timeouts uint64
	// TotalWait is summed over granted acquisitions; MaxWait is the longest of them.
	TotalWait time.Duration
	MaxWait   time.Duration
	// Holders whose lease has not ended, oldest first.
	Holders []ResourceHolder
}

// Stats are the resource's statistics and current holders now.
func (r *Resource) Stats() (ResourceStats, error) {
	var out *C.char
	if err := r.with(func(h *C.wflo_resource) C.wflo_status { return C.wflo_resource_stats_json(h, &out) }); err != nil {
		return ResourceStats{}, err
	}
	var j struct {
		Resource     string `json:"resource"`
		Acquisitions uint64 `json:"acquisitions"`
		Contentions  uint64 `json:"contentions"`
		Timeouts     uint64 `json:"timeouts"`
		TotalWaitMS  uint64 `json:"total_wait_ms"`
		MaxWaitMS    uint64 `json:"max_wait_ms"`
		Holders      []struct {
			HoldID       string `json:"hold_id"`
			Holder       string `json:"holder"`
			WorkflowID   string `json:"workflow_id"`
			AcquiredAtMS int64  `json:"acquired_at_ms"`
			LeaseUntilMS int64  `json:"lease_until_ms"`
		} `json:"holders"`
	}
	if err := takeJSON(out, &j); err != nil {
		return ResourceStats{}, err
	}
	s := ResourceStats{Resource: j.Resource, Acquisitions: j.Acquisitions, Contentions: j.Contentions,
		Timeouts: j.Timeouts, TotalWait: time.Duration(j.TotalWaitMS) * time.Millisecond,
		MaxWait: time.Duration(j.MaxWaitMS) * time.Millisecond, Holders: []ResourceHolder{}}
	for _, h := range j.Holders {
		s.Holders = append(s.Holders, ResourceHolder{HoldID: h.HoldID, Holder: h.Holder, WorkflowID: h.WorkflowID,
			AcquiredAt: time.UnixMilli(h.AcquiredAtMS), LeaseUntil: time.UnixMilli(h.LeaseUntilMS)})
	}
	return s, nil
}

// ResetStats zeroes the resource's statistics for every process (holds stay).
func (r *Resource) ResetStats() error {
	return r.with(func(h *C.wflo_resource) C.wflo_status { return C.wflo_resource_reset_stats(h) })
}

// Close frees the handle; holds and statistics stay in the store, and permits taken through
// it stay valid. Closing twice is fine.
func (r *Resource) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		r.cleanup.Stop()
		C.wflo_resource_free(r.ptr)
		r.ptr = nil
	}
}

// Permit is a held slot of a resource, until Release or until its lease ends (Renew extends
// it). Safe for concurrent use. A permit dropped without Release is released when the garbage
// collector finds it, or when its lease ends, whichever comes first.
type Permit struct {
	resource string
	waited   time.Duration
	mu       sync.Mutex
	ptr      *C.wflo_permit
	cleanup  runtime.Cleanup
}

func newPermit(resource string, ptr *C.wflo_permit) *Permit {
	p := &Permit{resource: resource, ptr: ptr,
		waited: time.Duration(C.wflo_permit_waited_ms(ptr)) * time.Millisecond}
	p.cleanup = runtime.AddCleanup(p, func(h *C.wflo_permit) { C.wflo_permit_free(h) }, ptr)
	return p
}

// Resource is the name of the resource the permit holds.
func (p *Permit) Resource() string { return p.resource }

// Waited is how long the acquisition waited for its slot.
func (p *Permit) Waited() time.Duration { return p.waited }

// Renew extends the hold's lease from now. false (and no error) means the hold had already
// ended — its lease passed, or it was released — and the resource must no longer be used as
// held.
func (p *Permit) Renew() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ptr == nil {
		return false, nil
	}
	var held C.bool
	ptr := p.ptr
	err := call(func() C.wflo_status { return C.wflo_permit_renew(ptr, &held) })
	return bool(held), err
}

// Release gives the slot back and frees the permit. Releasing twice is fine.
func (p *Permit) Release() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ptr == nil {
		return nil
	}
	ptr := p.ptr
	err := call(func() C.wflo_status { return C.wflo_permit_release(ptr) })
	p.cleanup.Stop()
	C.wflo_permit_free(ptr) // retries the release if it failed
	p.ptr = nil
	return err
}

// WithLock runs fn while holding a slot of res for workflowID, acquired as Acquire(ctx,
// workflowID, ConfiguredTimeout) does, and released when fn returns (or panics). It returns
// fn's error, or the acquisition's (a *ResourceBusyError, ctx.Err()), or the release's.
func WithLock(ctx context.Context, res *Resource, workflowID string, fn func() error) (err error) {
	p, err := res.Acquire(ctx, workflowID, ConfiguredTimeout)
	if err != nil {
		return err
	}
	defer func() {
		if rerr := p.Release(); err == nil {
			err = rerr
		}
	}()
	return fn()
}
