package wflo

/*
#include "wflo.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
)

// NanosToUSD converts nano-USD (the engine's integer unit) to dollars for display.
func NanosToUSD(n uint64) float64 { return float64(n) / 1e9 }

// USDToNanos converts dollars to nano-USD exactly as the engine does (toward zero; NaN,
// negative or absurd amounts are ErrInvalidArgument).
func USDToNanos(usd float64) (uint64, error) {
	var out C.uint64_t
	err := call(func() C.wflo_status { return C.wflo_usd_to_nanos(C.double(usd), &out) })
	return uint64(out), err
}

// ParseUSD parses a decimal USD string ("2.50", "$0.000075") to nano-USD.
func ParseUSD(text string) (uint64, error) {
	var out C.uint64_t
	p, n := cstr(text)
	err := call(func() C.wflo_status { return C.wflo_parse_usd(p, n, &out) })
	return uint64(out), err
}

// Usage is what a call used, in wflo's six DISJOINT fields: Input excludes cache reads and
// writes, Output excludes reasoning.
type Usage struct {
	Input        uint64 `json:"input"`
	Output       uint64 `json:"output"`
	CacheRead    uint64 `json:"cache_read"`
	CacheWrite5m uint64 `json:"cache_write_5m"`
	CacheWrite1h uint64 `json:"cache_write_1h"`
	Reasoning    uint64 `json:"reasoning"`
}

func (u Usage) c() C.wflo_usage {
	return C.wflo_usage{input: C.uint64_t(u.Input), output: C.uint64_t(u.Output), cache_read: C.uint64_t(u.CacheRead),
		cache_write_5m: C.uint64_t(u.CacheWrite5m), cache_write_1h: C.uint64_t(u.CacheWrite1h), reasoning: C.uint64_t(u.Reasoning)}
}

func usageFromC(u C.wflo_usage) Usage {
	return Usage{Input: uint64(u.input), Output: uint64(u.output), CacheRead: uint64(u.cache_read),
		CacheWrite5m: uint64(u.cache_write_5m), CacheWrite1h: uint64(u.cache_write_1h), Reasoning: uint64(u.reasoning)}
}

// ParseUsage reads a provider's usage JSON (format "auto", "openai_chat", "openai_responses",
// "anthropic", "gemini"; a whole response body or its usage object).
func ParseUsage(format string, body []byte) (Usage, error) {
	var out C.wflo_usage
	fp, fn := cstr(format)
	bp, bn := cbytes(body)
	err := call(func() C.wflo_status { return C.wflo_parse_usage(fp, fn, bp, bn, &out) })
	return usageFromC(out), err
}

// Engine is an engine: prices, budgets and a store. Safe for concurrent use. Close it when
// done (closing twice is fine); a finalizer frees it if forgotten, as a safety net only.
type Engine struct {
	mu      sync.RWMutex
	ptr     *C.wflo_engine
	alerts  *alertHandles
	cleanup runtime.Cleanup
}

// engineRef is what the cleanup of a forgotten Engine frees (it must not reach the Engine).
type engineRef struct {
	ptr    *C.wflo_engine
	alerts *alertHandles
}

// Open opens an engine over the store url names (a SQLite path, "sqlite://…", ":memory:",
// "memory://", "postgres://…"); "" means WFLO_DATABASE_URL, then DATABASE_URL, then the
// default SQLite file. The first Open routes the engine's events to slog.Default() when
// WFLO_LOG is set and SetLogger was not called (an unknown WFLO_LOG value is
// ErrInvalidArgument).
func Open(url string) (*Engine, error) {
	if err := logFromEnv(); err != nil {
		return nil, err
	}
	var ptr *C.wflo_engine
	p, n := cstr(url)
	if err := call(func() C.wflo_status { return C.wflo_engine_open(p, n, &ptr) }); err != nil {
		return nil, err
	}
	e := &Engine{ptr: ptr, alerts: &alertHandles{}}
	e.cleanup = runtime.AddCleanup(e, func(r engineRef) {
		C.wflo_engine_free(r.ptr)
		r.alerts.releaseAll()
	}, engineRef{ptr, e.alerts})
	return e, nil
}

// handle returns the live pointer, or ErrClosed.
func (e *Engine) handle() (*C.wflo_engine, func(), error) {
	e.mu.RLock()
	if e.ptr == nil {
		e.mu.RUnlock()
		return nil, nil, &Error{Code: CodeClosed, Message: "closed: the engine is closed"}
	}
	return e.ptr, e.mu.RUnlock, nil
}

// Close flushes and closes the store and frees the engine; its OnThreshold listeners are
// stopped. Executions of this engine fail with ErrClosed afterwards. Closing twice is fine.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ptr == nil {
		return nil
	}
	ptr := e.ptr
	err := call(func() C.wflo_status { return C.wflo_engine_close(ptr) })
	e.cleanup.Stop()
	C.wflo_engine_free(ptr) // removes the listeners: none is running when it returns
	e.alerts.releaseAll()
	e.ptr = nil
	return err
}

// with runs f with the live engine pointer.
func (e *Engine) with(f func(*C.wflo_engine) C.wflo_status) error {
	ptr, done, err := e.handle()
	if err != nil {
		return err
	}
	defer done()
	return call(func() C.wflo_status { return f(ptr) })
}

// SetPrices registers or overrides prices: {"models": [{"name": …, "input": …, "output": …}]}
// in pico-USD per token (1000000 = $1 per million tokens).
func (e *Engine) SetPrices(pricesJSON string) error {
	p, n := cstr(pricesJSON)
	return e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_set_prices(h, p, n) })
}

// PriceChanges is what a price file changed in the table (Engine.LoadPrices).
type PriceChanges struct {
	Origin    string         `json:"origin"`
	Format    string         `json:"format"` // "wflo" or "litellm"
	Models    int            `json:"models"`
	Added     []string       `json:"added"`
	Changed   []PriceChange  `json:"changed"`
	Unchanged int            `json:"unchanged"`
	Skipped   []SkippedPrice `json:"skipped"`
}

// PriceChange is one model whose prices or limits a file changed.
type PriceChange struct {
	Name   string        `json:"name"`
	Fields []FieldChange `json:"fields"`
}

// FieldChange is one field before and after (nil: absent); prices in pico-USD per token.
type FieldChange struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// SkippedPrice is an entry of a file that is not a per-token price (LiteLLM's image prices…).
type SkippedPrice struct {
	Name   string `json:"name"`
	Line   uint64 `json:"line"`
	Reason string `json:"reason"`
}

// PriceTable says where an engine's prices come from.
type PriceTable struct {
	Source    string            `json:"source"`
	Version   string            `json:"version"`
	Retrieved string            `json:"retrieved"`
	Models    int               `json:"models"`
	Files     []LoadedPriceFile `json:"files"`
	Overrides int               `json:"overrides"`
}

// LoadedPriceFile is a price file applied over the built-in table.
type LoadedPriceFile struct {
	Origin    string `json:"origin"`
	Format    string `json:"format"`
	Version   string `json:"version,omitempty"`
	Retrieved string `json:"retrieved,omitempty"`
	Models    int    `json:"models"`
}

// LoadPrices loads a price file over the table: wflo's schema or LiteLLM's
// model_prices_and_context_window.json as published. The whole file is checked first; a bad
// entry refuses it (CodeInvalidArgument, naming the line) and nothing is applied. Every engine
// also loads the file WFLO_PRICES names when it opens.
func (e *Engine) LoadPrices(path string) (PriceChanges, error) {
	var out *C.char
	var changes PriceChanges
	p, n := cstr(path)
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_load_prices(h, p, n, &out) }); err != nil {
		return changes, err
	}
	return changes, takeJSON(out, &changes)
}

// PriceTable says where the engine's prices come from: the built-in table and the files
// loaded over it.
func (e *Engine) PriceTable() (PriceTable, error) {
	var out *C.char
	var table PriceTable
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_price_table_json(h, &out) }); err != nil {
		return table, err
	}
	return table, takeJSON(out, &table)
}

// DefineSharedScope creates or changes a budget shared by every process using the same
// store (limitUSD nil: no limit, wflo.USD(0) a limit of zero; period "none", "day" or "month").
// Without WithAllowances the scope keeps how it is served (a new one: from allowances).
func (e *Engine) DefineSharedScope(name string, limitUSD *float64, period string, opts ...ScopeOption) error {
	limit, err := optionalBudget(limitUSD)
	if err != nil {
		return err
	}
	o := scopeOptions{allowances: -1}
	for _, opt := range opts {
		opt(&o)
	}
	np, nn := cstr(name)
	pp, pn := cstr(period)
	return e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_engine_define_shared_scope_allowances(h, np, nn, C.int64_t(limit), pp, pn, C.int32_t(o.allowances))
	})
}

// ScopeOption is a setting of a shared scope given to DefineSharedScope.
type ScopeOption func(*scopeOptions)

type scopeOptions struct{ allowances int32 }

// WithAllowances says how processes serve the scope: true from local allowances (no store
// round trip per call), false every call booked in the store (strict fairness between
// processes, a store transaction per call).
func WithAllowances(on bool) ScopeOption {
	return func(o *scopeOptions) {
		o.allowances = 0
		if on {
			o.allowances = 1
		}
	}
}

// SharedScope is a shared scope's figures for its current period.
type SharedScope struct {
	Name          string  `json:"name"`
	Key           string  `json:"key"`
	Period        string  `json:"period"`
	LimitNanos    *uint64 `json:"limit_nanos"`
	SpentNanos    uint64  `json:"spent_nanos"`
	ReservedNanos uint64  `json:"reserved_nanos"`
	OverrunNanos  uint64  `json:"overrun_nanos"`
	Refusing      bool    `json:"refusing"`
	// Allowances: processes serve the scope from local allowances; AllowanceNanos of
	// ReservedNanos is held as allowances by AllowanceHolders processes.
	Allowances       bool   `json:"allowances"`
	AllowanceNanos   uint64 `json:"allowance_nanos"`
	AllowanceHolders uint64 `json:"allowance_holders"`
}

// SharedScope reads a shared scope's figures.
func (e *Engine) SharedScope(name string) (SharedScope, error) {
	var out *C.char
	var s SharedScope
	p, n := cstr(name)
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_engine_shared_scope_json(h, p, n, &out) }); err != nil {
		return s, err
	}
	return s, takeJSON(out, &s)
}

// TokenCount is a count and whether it is the model's real tokenizer or an estimate.
type TokenCount struct {
	Tokens    uint64
	Estimated bool
}

// CountTokens counts text as model is billed for it.
func (e *Engine) CountTokens(model, text string) (TokenCount, error) {
	var tokens C.uint64_t
	var est C.bool
	mp, mn := cstr(model)
	tp, tn := cstr(text)
	err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_count_tokens(h, mp, mn, tp, tn, &tokens, &est) })
	return TokenCount{uint64(tokens), bool(est)}, err
}

// CountChatTokens counts a chat request's messages (any value that marshals to a JSON array
// of {role, content, name?}) with the per-message overhead.
func (e *Engine) CountChatTokens(model string, messages any) (TokenCount, error) {
	raw, ok := messages.([]byte)
	if !ok {
		var err error
		if raw, err = json.Marshal(messages); err != nil {
			return TokenCount{}, invalid("messages do not marshal to JSON: %v", err)
		}
	}
	var tokens C.uint64_t
	var est C.bool
	mp, mn := cstr(model)
	jp, jn := cbytes(raw)
	err := e.with(func(h *C.wflo_engine) C.wflo_status {
		return C.wflo_count_chat_tokens(h, mp, mn, jp, jn, &tokens, &est)
	})
	return TokenCount{uint64(tokens), bool(est)}, err
}

// Cost prices a usage on a model, in nano-USD rounded up.
func (e *Engine) Cost(model string, u Usage) (uint64, error) {
	var out C.uint64_t
	mp, mn := cstr(model)
	cu := u.c()
	err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_cost(h, mp, mn, &cu, &out) })
	return uint64(out), err
}

// Price is how a model name resolved and its prices (pico-USD per token).
type Price struct {
	Resolved   string `json:"resolved"`
	Resolution string `json:"resolution"`
	Price      struct {
		Name      string  `json:"name"`
		Provider  string  `json:"provider"`
		Input     uint64  `json:"input"`
		Output    uint64  `json:"output"`
		CacheRead *uint64 `json:"cache_read"`
		MaxOutput *uint64 `json:"max_output"`
	} `json:"price"`
}

// Price resolves a model name to its price entry.
func (e *Engine) Price(model string) (Price, error) {
	var out *C.char
	var p Price
	mp, mn := cstr(model)
	if err := e.with(func(h *C.wflo_engine) C.wflo_status { return C.wflo_price_json(h, mp, mn, &out) }); err != nil {
		return p, err
	}
	return p, takeJSON(out, &p)
}
