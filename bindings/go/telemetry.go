package wflo

// What the engine tells the outside world: its metrics as Prometheus text and its budget
// alerts, delivered to Go functions. When an alert fires and what it carries are the
// engine's rules; this file converts.

/*
#include <stdint.h>
#include "wflo.h"

extern void wfloGoAlert(void *, char *, size_t);

static wflo_status wflo_go_add_alert_listener(const wflo_engine *engine, uintptr_t handle, uint64_t *id) {
	return wflo_engine_add_alert_listener(engine, (wflo_alert_fn)wfloGoAlert, (void *)handle, id);
}
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"time"
)

// MetricsText is the engine's metrics in the Prometheus text exposition format (version
// 0.0.4), ready to serve on a /metrics endpoint: spend by model, provider and scope
// (wflo_cost_usd_total), calls by status, refusals, token and duration histograms (GenAI
// semantic conventions), budgets remaining and alerts fired. Labels are bounded: never an
// execution id.
func (e *Engine) MetricsText() (string, error) {
	var out *C.char
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_metrics_text(h, &out) }); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// AlertKind is what an Alert reports.
type AlertKind string

const (
	// AlertThreshold: spend reached Percent of a hard limit.
	AlertThreshold AlertKind = "threshold"
	// AlertSoftBudget: spend reached the soft budget (ExecutionOptions.SoftBudgetUSD); a
	// warning, nothing is refused.
	AlertSoftBudget AlertKind = "soft_budget"
)

// Alert is one budget alert. It carries ids, names and amounts only.
type Alert struct {
	// ExecutionID and Workflow name the execution whose spend crossed ("" for a shared scope).
	ExecutionID string `json:"execution_id"`
	Workflow    string `json:"workflow"`
	// Scope is "" for the execution's own budget, a step label, or a shared scope's name.
	Scope string    `json:"scope"`
	Kind  AlertKind `json:"kind"`
	// Percent of LimitNanos (100 for a soft budget).
	Percent uint32 `json:"percent"`
	// LimitNanos is the limit the threshold is a part of (the soft budget itself for
	// AlertSoftBudget); amounts in nano-USD, with their USD views.
	LimitNanos uint64  `json:"limit_nanos"`
	LimitUSD   float64 `json:"limit_usd"`
	SpentNanos uint64  `json:"spent_nanos"`
	SpentUSD   float64 `json:"spent_usd"`
	// AtMs is when it fired, in milliseconds since the Unix epoch (At converts).
	AtMs uint64 `json:"at_ms"`
}

// At is when the alert fired.
func (a Alert) At() time.Time { return time.UnixMilli(int64(a.AtMs)) }

// alertHandles are an engine's listeners, by the engine's id for each: the cgo handles to
// delete once libwflo has stopped calling them.
type alertHandles struct {
	mu      sync.Mutex
	handles map[uint64]cgo.Handle
}

func (r *alertHandles) add(id uint64, h cgo.Handle) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.handles == nil {
		r.handles = map[uint64]cgo.Handle{}
	}
	r.handles[id] = h
}

// release deletes the handle of listener id, once libwflo no longer calls it.
func (r *alertHandles) release(id uint64) {
	r.mu.Lock()
	h, ok := r.handles[id]
	delete(r.handles, id)
	r.mu.Unlock()
	if ok {
		h.Delete()
	}
}

// releaseAll deletes every handle, once the engine handle (and so its listeners) is freed.
func (r *alertHandles) releaseAll() {
	r.mu.Lock()
	handles := r.handles
	r.handles = nil
	r.mu.Unlock()
	for _, h := range handles {
		h.Delete()
	}
}

// OnThreshold calls f with every budget alert of the engine's executions: each threshold of
// a limit — the execution's or a step scope's; ExecutionOptions.AlertThresholds, by default
// 50, 80 and 95% — once, in order (a call that crosses two delivers both, lowest first), and
// the soft budget (ExecutionOptions.SoftBudgetUSD) once. Register it before starting the
// executions it should hear about.
//
// f runs on the goroutine whose call settled the spend, before that call returns, possibly
// on several goroutines at once; keep it short (hand slow work to a goroutine). It may call
// the package, stop included. A panic in f is recovered and reported to slog's default
// logger. After stop returns (or Close), f is not running and is not called again — unless
// stop was called from inside f itself.
func (e *Engine) OnThreshold(f func(Alert)) (stop func(), err error) {
	if f == nil {
		return nil, invalid("OnThreshold needs a function")
	}
	h := cgo.NewHandle(f)
	var id C.uint64_t
	err = e.with(func(p *C.wflo_engine) C.wflo_status {
		return C.wflo_go_add_alert_listener(p, C.uintptr_t(h), &id)
	})
	if err != nil {
		h.Delete()
		return nil, err
	}
	e.alerts.add(uint64(id), h)
	var once sync.Once
	return func() {
		once.Do(func() {
			// A closed engine already removed every listener (wflo_engine_free).
			_ = e.with(func(p *C.wflo_engine) C.wflo_status { return C.wflo_engine_remove_alert_listener(p, id) })
			e.alerts.release(uint64(id))
		})
	}, nil
}
