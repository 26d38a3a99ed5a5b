package wflo_test

// The parity replay: tests/vectors/scenarios.json through the Go API, exactly as
// tests/vectors/README-scenarios.md says. With WFLO_PARITY_DIR set, the ledger is written to
// $WFLO_PARITY_DIR/go.json, and tests/parity/compare.py checks it equals Rust's byte for byte
// (after canonicalisation): Go decides nothing on its own, so nothing may differ.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

type parityStep struct {
	Op        string                     `json:"op"`
	Label     string                     `json:"label"`
	Parent    *string                    `json:"parent"`
	BudgetUSD *string                    `json:"budget_usd"`
	Format    string                     `json:"format"`
	Request   json.RawMessage            `json:"request"`
	Options   json.RawMessage            `json:"options"`
	Scope     *string                    `json:"scope"`
	Outcome   map[string]json.RawMessage `json:"outcome"`
	Name      string                     `json:"name"`
	State     json.RawMessage            `json:"state"`
	// A checkpoint_binary's state: the bytes of Hex, Repeat times (nil: once), named by
	// ContentType (nil: none given, CheckpointBytes).
	ContentType *string `json:"content_type"`
	Hex         string  `json:"hex"`
	Repeat      *int    `json:"repeat"`
	// A checkpoints_since's sequence; a checkpoints_since_with_state's too, and its checkpoint id.
	After uint64 `json:"after"`
	ID    uint64 `json:"id"`
	// A langgraph step's values ([type, hex]); its request is Request.
	Values [][2]string `json:"values"`
	// The resilience ops: a breaker's config and actions, a call's breaker, a retried call.
	Config  json.RawMessage   `json:"config"`
	Actions []json.RawMessage `json:"actions"`
	Breaker *string           `json:"breaker"`
	// A breaker_call's error to raise: a wflo code, "foreign", or nil (the call returns).
	Raise    *string                      `json:"raise"`
	Policy   *wflo.RetryPolicy            `json:"policy"`
	Attempts []map[string]json.RawMessage `json:"attempts"`
	// An approval step's decision, when the scenario makes one.
	Decide *struct {
		Approve bool    `json:"approve"`
		By      *string `json:"by"`
		Note    *string `json:"note"`
	} `json:"decide"`
}

type parityScenario struct {
	Name            string            `json:"name"`
	PricesFile      *string           `json:"prices_file"`
	BudgetUSD       *string           `json:"budget_usd"`
	SoftBudgetUSD   *string           `json:"soft_budget_usd"`
	ApprovalAbove   *string           `json:"approval_above_usd"`
	TraceParent     string            `json:"traceparent"`
	AlertThresholds []int             `json:"alert_thresholds"`
	MaxCalls        *int64            `json:"max_calls"`
	AgentBudgets    map[string]string `json:"agent_budgets_usd"`
	SharedScopes    []paritySharedDef `json:"shared_scopes"`
	Steps           []parityStep      `json:"steps"`
	// nil: the body returned; otherwise the wflo codes along the raised error's causes.
	End *[]string `json:"end"`
}

// paritySharedDef is one definition of a shared scope, made before the execution starts.
type paritySharedDef struct {
	Name       string  `json:"name"`
	LimitUSD   *string `json:"limit_usd"`
	Period     *string `json:"period"`
	Allowances *bool   `json:"allowances"` // nil: not said, the scope keeps its setting
}

// defineSharedScopes defines the scenario's shared scopes in order through DefineSharedScope
// and returns the names the execution starts with (each once).
func defineSharedScopes(t *testing.T, e *wflo.Engine, s parityScenario) []string {
	t.Helper()
	var names []string
	for _, d := range s.SharedScopes {
		period := "none"
		if d.Period != nil {
			period = *d.Period
		}
		var opts []wflo.ScopeOption
		if d.Allowances != nil {
			opts = append(opts, wflo.WithAllowances(*d.Allowances))
		}
		if err := e.DefineSharedScope(d.Name, budgetOf(t, d.LimitUSD), period, opts...); err != nil {
			t.Fatalf("%s: shared scope %s: %v", s.Name, d.Name, err)
		}
		if !slices.Contains(names, d.Name) {
			names = append(names, d.Name)
		}
	}
	return names
}

// replayShared reads a shared scope's figures through SharedScope.
func replayShared(e *wflo.Engine, step parityStep) (map[string]any, error) {
	f, err := e.SharedScope(step.Name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"op": "shared", "name": f.Name, "limit_nanos": f.LimitNanos,
		"spent_nanos": f.SpentNanos, "reserved_nanos": f.ReservedNanos, "overrun_nanos": f.OverrunNanos,
		"refusing": f.Refusing, "allowances": f.Allowances, "allowance_nanos": f.AllowanceNanos,
		"allowance_holders": f.AllowanceHolders}, nil
}

// parityCall is a call record with only the fields the ledger keeps.
type parityCall struct {
	Seq            uint64     `json:"seq"`
	Step           string     `json:"step"`
	Provider       string     `json:"provider"`
	RequestedModel string     `json:"requested_model"`
	Model          *string    `json:"model"`
	Usage          wflo.Usage `json:"usage"`
	CostNanos      uint64     `json:"cost_nanos"`
	ReservedNanos  uint64     `json:"reserved_nanos"`
	OverrunNanos   uint64     `json:"overrun_nanos"`
	Estimated      bool       `json:"estimated"`
	UsageMissing   bool       `json:"usage_missing"`
	Stream         bool       `json:"stream"`
	Status         string     `json:"status"`
	Error          *string    `json:"error"`
}

type parityLedger struct {
	Name          string           `json:"name"`
	Events        []map[string]any `json:"events"`
	Status        string           `json:"status"`
	Calls         []parityCall     `json:"calls"`
	SpentNanos    uint64           `json:"spent_nanos"`
	ReservedNanos uint64           `json:"reserved_nanos"`
	Prices        any              `json:"prices"`
	PriceTable    string           `json:"price_table"`
	Alerts        []parityAlert    `json:"alerts"`
	TraceID       *string          `json:"trace_id"`
	Metrics       []string         `json:"metrics"`
}

// parityAlert is an alert as the ledger keeps it.
type parityAlert struct {
	Scope      string         `json:"scope"`
	Kind       wflo.AlertKind `json:"kind"`
	Percent    uint32         `json:"percent"`
	LimitNanos uint64         `json:"limit_nanos"`
	SpentNanos uint64         `json:"spent_nanos"`
}

// metricLines are the lines of the metrics text every face must agree on (money, calls,
// refusals, alerts, budgets remaining), in order.
func metricLines(text string) []string {
	kept := []string{"wflo_cost_usd_total{", "wflo_calls_total{", "wflo_refusals_total{", "wflo_alerts_total{",
		"wflo_budget_remaining_usd{"}
	lines := []string{}
	for _, line := range strings.Split(text, "\n") {
		for _, k := range kept {
			if strings.HasPrefix(line, k) {
				lines = append(lines, line)
				break
			}
		}
	}
	return lines
}

// parityPrices is what the ledger records of a scenario's price file.
type parityPrices struct {
	Added   []string `json:"added"`
	Changed []string `json:"changed"`
	Skipped []string `json:"skipped"`
}

// loadPrices loads a scenario's price file (relative to tests/vectors) through the Go API.
// A refused load is {"error": code}; no file, nil.
func loadPrices(t *testing.T, e *wflo.Engine, s parityScenario) any {
	t.Helper()
	if s.PricesFile == nil {
		return nil
	}
	changes, err := e.LoadPrices(filepath.Join("..", "..", "tests", "vectors", *s.PricesFile))
	if err != nil {
		return map[string]string{"error": parityCode(err)}
	}
	out := &parityPrices{Added: changes.Added, Changed: []string{}, Skipped: []string{}}
	for _, c := range changes.Changed {
		out.Changed = append(out.Changed, c.Name)
	}
	for _, sk := range changes.Skipped {
		out.Skipped = append(out.Skipped, sk.Name)
	}
	return out
}

// budgetOf parses a scenario's dollar amount with the Go face's own parsing: null is no
// limit, "0" a budget of zero.
func budgetOf(t *testing.T, text *string) *float64 {
	t.Helper()
	if text == nil {
		return nil
	}
	n, err := wflo.ParseUSD(*text)
	if err != nil {
		t.Fatalf("budget %q: %v", *text, err)
	}
	return wflo.USD(wflo.NanosToUSD(n))
}

// stateEvent is a state an *Any call returned, as the ledger keeps it: JSON under "state",
// a binary state's content type and bytes (lowercase hex) under "binary".
func stateEvent(op string, state wflo.CheckpointState) map[string]any {
	if state.IsBinary() {
		return map[string]any{"op": op, "binary": map[string]any{"content_type": state.ContentType,
			"hex": hex.EncodeToString(state.Data)}}
	}
	return map[string]any{"op": op, "state": state.JSON}
}

// replayLangGraph runs a langgraph step through saver on x: the step's request with "values"
// added as [[type, byte length]] and their bytes one after another. The event is the answer's
// JSON with its "values" (when it has them) as [[type, hex]] of the bytes returned, or the
// error's code. The error returned is the replay's own (JSON it cannot read).
func replayLangGraph(saver *wflo.LangGraphCheckpointer, x *wflo.Execution, step parityStep) (map[string]any, error) {
	request := step.Request
	var data []byte
	if step.Values != nil {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(step.Request, &fields); err != nil {
			return nil, err
		}
		listed := make([][2]any, 0, len(step.Values))
		for _, v := range step.Values {
			b, err := hex.DecodeString(v[1])
			if err != nil {
				return nil, err
			}
			listed = append(listed, [2]any{v[0], len(b)})
			data = append(data, b...)
		}
		var err error
		if fields["values"], err = json.Marshal(listed); err != nil {
			return nil, err
		}
		if request, err = json.Marshal(fields); err != nil {
			return nil, err
		}
	}
	answer, values, err := saver.Call(x, request, data)
	if err != nil {
		return map[string]any{"op": "langgraph", "error": parityCode(err)}, nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(answer, &fields) != nil || fields["values"] == nil {
		// Not an object, or one without values: the answer as it is.
		return map[string]any{"op": "langgraph", "answer": json.RawMessage(answer)}, nil
	}
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal(fields["values"], &pairs); err != nil {
		return nil, err
	}
	typed := make([][2]any, 0, len(pairs))
	for _, p := range pairs {
		var kind string
		var n int
		if err := json.Unmarshal(p[0], &kind); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(p[1], &n); err != nil {
			return nil, err
		}
		if n > len(values) {
			return nil, fmt.Errorf("the answer %s lists more value bytes than it gives", answer)
		}
		typed = append(typed, [2]any{kind, hex.EncodeToString(values[:n])})
		values = values[n:]
	}
	if len(values) != 0 {
		return nil, fmt.Errorf("the answer %s gives more value bytes than it lists", answer)
	}
	if fields["values"], err = json.Marshal(typed); err != nil {
		return nil, err
	}
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return map[string]any{"op": "langgraph", "answer": json.RawMessage(out)}, nil
}

// sinceEvent adds what a checkpoints-since call returned to event: the checkpoints' names,
// sequences and superseded flags in order, and the rollback count.
func sinceEvent(event map[string]any, list []wflo.CheckpointInfo, rollbacks uint64) map[string]any {
	names, sequences, superseded := []string{}, []uint64{}, []bool{}
	for _, c := range list {
		names = append(names, c.Name)
		sequences = append(sequences, c.Sequence)
		superseded = append(superseded, c.Superseded)
	}
	event["names"], event["sequences"], event["superseded"], event["rollbacks"] = names, sequences, superseded, rollbacks
	return event
}

// parityCode is codeOf, knowing the call limit's typed error too.
func parityCode(err error) string {
	var cl *wflo.CallLimitError
	if errors.As(err, &cl) {
		return "CALL_LIMIT"
	}
	return codeOf(err)
}

// agentBudgetsOf is a scenario's agent_budgets_usd as the Go option: each amount parsed by
// the engine, nil for none.
func agentBudgetsOf(t *testing.T, texts map[string]string) map[string]float64 {
	t.Helper()
	if texts == nil {
		return nil
	}
	out := map[string]float64{}
	for name, text := range texts {
		out[name] = *budgetOf(t, &text)
	}
	return out
}

// codeLayer is an application error carrying a wflo error and wrapping its cause, found by
// Execution.End through its As method — a layer of a real program's error chain.
type codeLayer struct {
	err   *wflo.Error
	cause error
}

func (l *codeLayer) Error() string { return l.err.Error() + ": " + l.cause.Error() }
func (l *codeLayer) Unwrap() error { return l.cause }
func (l *codeLayer) As(target any) bool {
	if p, ok := target.(**wflo.Error); ok {
		*p = l.err
		return true
	}
	return false
}

// raised builds an error whose chain holds codes, outermost first, under a foreign wrapper
// (which adds no code); an empty list is a foreign error.
func raised(codes []string) error {
	byName := map[string]wflo.Code{}
	for c := wflo.CodeInvalidArgument; c <= wflo.CodeCallLimit; c++ {
		byName[c.String()] = c
	}
	var chain error = errors.New("the root cause, not a wflo error")
	for i := len(codes) - 1; i >= 0; i-- {
		code, ok := byName[codes[i]]
		switch {
		case !ok:
			chain = fmt.Errorf("%s (not a wflo code): %w", codes[i], chain)
		case code == wflo.CodeBudgetExceeded:
			chain = fmt.Errorf("refused: %w", errors.Join(&wflo.BudgetExceededError{Message: "replayed"}, chain))
		default:
			chain = &codeLayer{err: &wflo.Error{Code: code, Message: "replayed"}, cause: chain}
		}
	}
	return fmt.Errorf("the workflow failed: %w", chain)
}

func replayScenario(t *testing.T, index int, s parityScenario) parityLedger {
	t.Helper()
	e := memoryEngine(t)
	prices := loadPrices(t, e, s)
	sharedScopes := defineSharedScopes(t, e, s)
	ledger := parityLedger{Name: s.Name, Events: []map[string]any{}, Alerts: []parityAlert{}}
	var alertsMu sync.Mutex
	stop, err := e.OnThreshold(func(a wflo.Alert) {
		alertsMu.Lock()
		defer alertsMu.Unlock()
		ledger.Alerts = append(ledger.Alerts, parityAlert{Scope: a.Scope, Kind: a.Kind, Percent: a.Percent,
			LimitNanos: a.LimitNanos, SpentNanos: a.SpentNanos})
	})
	if err != nil {
		t.Fatal(err)
	}
	x, err := e.StartExecution(wflo.ExecutionOptions{Name: s.Name, BudgetUSD: budgetOf(t, s.BudgetUSD),
		ID: fmt.Sprintf("exec-%012x", index+1), TraceParent: s.TraceParent, AlertThresholds: s.AlertThresholds,
		SoftBudgetUSD: budgetOf(t, s.SoftBudgetUSD), ApprovalAboveUSD: budgetOf(t, s.ApprovalAbove),
		MaxCalls: s.MaxCalls, AgentBudgetsUSD: agentBudgetsOf(t, s.AgentBudgets), SharedScopes: sharedScopes})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	// The scenario's LangGraph checkpointer, made at its first langgraph step.
	var saver *wflo.LangGraphCheckpointer
	for i, step := range s.Steps {
		fail := func(err error) { t.Fatalf("%s step %d (%s): %v", s.Name, i, step.Op, err) }
		switch step.Op {
		case "scope":
			if step.Parent != nil {
				parent, err := x.Scope(*step.Parent, nil)
				if err != nil {
					fail(err)
				}
				if _, err := parent.Child(step.Label, budgetOf(t, step.BudgetUSD)); err != nil {
					fail(err)
				}
			} else if _, err := x.Scope(step.Label, budgetOf(t, step.BudgetUSD)); err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, map[string]any{"op": "scope", "label": step.Label})
		case "breaker":
			var config *wflo.BreakerConfig
			if step.Config != nil {
				config = &wflo.BreakerConfig{}
				if err := json.Unmarshal(step.Config, config); err != nil {
					fail(err)
				}
			}
			b, err := e.Breaker(step.Name, config)
			if err != nil {
				fail(err)
			}
			for _, raw := range step.Actions {
				var action string
				if err := json.Unmarshal(raw, &action); err != nil {
					fail(err)
				}
				var code any
				var err error
				switch action {
				case "check":
					if err := b.Check(); err != nil {
						code = parityCode(err)
					}
				case "failure":
					err = b.RecordFailure()
				case "success":
					err = b.RecordSuccess()
				case "reset":
					err = b.Reset()
				default:
					t.Fatalf("%s: unknown breaker action %q", s.Name, action)
				}
				if err != nil {
					fail(err)
				}
				state, err := b.State()
				if err != nil {
					fail(err)
				}
				ledger.Events = append(ledger.Events, map[string]any{"op": "breaker", "action": action,
					"state": string(state), "error": code})
			}
			b.Close()
		case "breaker_call":
			event, err := replayBreakerCall(e, step)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, event)
		case "breakers":
			event, err := replayBreakers(e)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, event)
		case "resource":
			events, err := replayResource(e, step)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, events...)
		case "approval":
			event, err := replayApproval(e, x, step)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, event)
		case "shared":
			event, err := replayShared(e, step)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, event)
		case "retry_call":
			events, err := replayRetry(e, x, step)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, events...)
		case "call":
			var breaker *wflo.Breaker
			if step.Breaker != nil {
				if breaker, err = e.Breaker(*step.Breaker, nil); err != nil {
					fail(err)
				}
				if err := breaker.Check(); err != nil {
					ledger.Events = append(ledger.Events, map[string]any{"op": "call", "body": nil, "error": parityCode(err)})
					continue
				}
			}
			var opts *wflo.RequestOptions
			if step.Options != nil {
				opts = &wflo.RequestOptions{}
				dec := json.NewDecoder(bytes.NewReader(step.Options))
				dec.DisallowUnknownFields() // an option Go does not have must not pass unnoticed
				if err := dec.Decode(opts); err != nil {
					fail(err)
				}
			}
			var res *wflo.Reservation
			var body []byte
			var err error
			if step.Scope != nil {
				sc, serr := x.Scope(*step.Scope, nil)
				if serr != nil {
					fail(serr)
				}
				res, body, err = sc.ReserveRequest(step.Format, step.Request, opts)
			} else {
				res, body, err = x.ReserveRequest(step.Format, step.Request, opts)
			}
			if err != nil {
				ledger.Events = append(ledger.Events, map[string]any{"op": "call", "body": nil, "error": parityCode(err)})
				continue
			}
			ledger.Events = append(ledger.Events, map[string]any{"op": "call", "body": json.RawMessage(body), "error": nil})
			if err := settleOutcome(res, step); err != nil {
				fail(err)
			}
			res.Close()
			if breaker != nil {
				record := breaker.RecordSuccess
				if step.Outcome["error"] != nil {
					record = breaker.RecordFailure
				}
				if err := record(); err != nil {
					fail(err)
				}
			}
		case "checkpoint":
			if _, err := x.Checkpoint(step.Name, step.State); err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, map[string]any{"op": "checkpoint", "name": step.Name})
		case "checkpoint_binary":
			data, err := hex.DecodeString(step.Hex)
			if err != nil {
				fail(err)
			}
			if step.Repeat != nil {
				data = bytes.Repeat(data, *step.Repeat)
			}
			var info wflo.CheckpointInfo
			if step.ContentType == nil {
				info, err = x.CheckpointBytes(step.Name, data)
			} else {
				info, err = x.CheckpointBinary(step.Name, *step.ContentType, data)
			}
			if err != nil {
				ledger.Events = append(ledger.Events, map[string]any{"op": "checkpoint_binary", "name": step.Name,
					"error": parityCode(err)})
				break
			}
			ledger.Events = append(ledger.Events, map[string]any{"op": "checkpoint_binary", "name": step.Name,
				"content_type": info.ContentType, "state_bytes": info.StateBytes})
		case "checkpoints_since":
			list, rollbacks, err := x.CheckpointsSince(step.After)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, sinceEvent(map[string]any{"op": "checkpoints_since"}, list, rollbacks))
		case "checkpoints_since_with_state":
			list, rollbacks, state, err := x.CheckpointsSinceWithState(step.After, step.ID)
			if err != nil {
				ledger.Events = append(ledger.Events, map[string]any{"op": "checkpoints_since_with_state", "error": parityCode(err)})
				break
			}
			ledger.Events = append(ledger.Events, sinceEvent(stateEvent("checkpoints_since_with_state", state), list, rollbacks))
		case "langgraph":
			if saver == nil {
				saver = wflo.NewLangGraphCheckpointer()
				defer saver.Close()
			}
			event, err := replayLangGraph(saver, x, step)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, event)
		case "rollback":
			state, err := x.RollbackToCheckpointAny(step.Name)
			if err != nil {
				fail(err)
			}
			ledger.Events = append(ledger.Events, stateEvent("rollback", state))
		case "latest":
			state, err := x.LatestCheckpointAny()
			switch {
			case errors.Is(err, wflo.ErrNotFound):
				ledger.Events = append(ledger.Events, map[string]any{"op": "latest", "state": nil})
			case err != nil:
				fail(err)
			default:
				ledger.Events = append(ledger.Events, stateEvent("latest", state))
			}
		default:
			t.Fatalf("%s: unknown op %q", s.Name, step.Op)
		}
	}
	var end error
	if s.End != nil {
		end = raised(*s.End)
	}
	if ledger.Status, err = x.End(end); err != nil {
		t.Fatal(err)
	}
	calls, err := x.Calls()
	if err != nil {
		t.Fatal(err)
	}
	ledger.Calls = []parityCall{}
	for _, c := range calls {
		ledger.Calls = append(ledger.Calls, parityCall{Seq: c.Seq, Step: c.Step, Provider: c.Provider,
			RequestedModel: c.RequestedModel, Model: c.Model, Usage: c.Usage, CostNanos: c.CostNanos,
			ReservedNanos: c.ReservedNanos, OverrunNanos: c.OverrunNanos, Estimated: c.Estimated,
			UsageMissing: c.UsageMissing, Stream: c.Stream, Status: c.Status, Error: c.Error})
	}
	b, err := x.Breakdown()
	if err != nil {
		t.Fatal(err)
	}
	ledger.SpentNanos, ledger.ReservedNanos = b.TotalNanos, b.ReservedNanos
	ledger.Prices, ledger.PriceTable = prices, b.PriceTable
	if s.TraceParent != "" {
		id := x.TraceID()
		ledger.TraceID = &id
	}
	text, err := e.MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	ledger.Metrics = metricLines(text)
	stop()
	return ledger
}

// wfloErrorOf is the Go face's error for a wflo code: its typed error where it has one.
func wfloErrorOf(name string) error {
	switch name {
	case "BUDGET_EXCEEDED":
		return &wflo.BudgetExceededError{Message: "replayed"}
	case "CIRCUIT_OPEN":
		return &wflo.CircuitOpenError{Message: "replayed"}
	case "RESOURCE_BUSY":
		return &wflo.ResourceBusyError{Message: "replayed"}
	case "APPROVAL_DENIED":
		return &wflo.ApprovalDeniedError{Message: "replayed"}
	case "APPROVAL_PENDING":
		return &wflo.ApprovalPendingError{Message: "replayed"}
	case "CALL_LIMIT":
		return &wflo.CallLimitError{Message: "replayed"}
	}
	for c := wflo.CodeInvalidArgument; c <= wflo.CodeCallLimit; c++ {
		if c.String() == name {
			return &wflo.Error{Code: c, Message: "replayed"}
		}
	}
	return fmt.Errorf("%s is not a wflo code", name)
}

// replayBreakerCall replays a breaker_call step: a function that returns nil, a wflo error of
// the step's code or a foreign error, called through Breaker.Call.
func replayBreakerCall(e *wflo.Engine, step parityStep) (map[string]any, error) {
	var config *wflo.BreakerConfig
	if step.Config != nil {
		config = &wflo.BreakerConfig{}
		if err := json.Unmarshal(step.Config, config); err != nil {
			return nil, err
		}
	}
	b, err := e.Breaker(step.Name, config)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	called := false
	err = b.Call(func() error {
		called = true
		switch {
		case step.Raise == nil:
			return nil
		case *step.Raise == "foreign":
			return errors.New("a foreign failure")
		}
		return wfloErrorOf(*step.Raise)
	})
	var code any
	switch {
	case called && step.Raise != nil:
		code = *step.Raise
	case !called:
		code = parityCode(err)
	case err != nil:
		return nil, err
	}
	state, serr := b.State()
	if serr != nil {
		return nil, serr
	}
	var raise any
	if step.Raise != nil {
		raise = *step.Raise
	}
	return map[string]any{"op": "breaker_call", "raise": raise, "error": code, "called": called,
		"state": string(state)}, nil
}

// replayBreakers replays a breakers step: the breakers on the store, without times or holders.
func replayBreakers(e *wflo.Engine) (map[string]any, error) {
	on, err := e.BreakersOnStore("", 100)
	if err != nil {
		return nil, err
	}
	shared := []map[string]any{}
	for _, b := range on.Shared {
		shared = append(shared, map[string]any{"name": b.Name, "state": string(b.State), "failure_count": b.FailureCount})
	}
	transitions := []map[string]any{}
	for _, t := range on.Transitions {
		transitions = append(transitions, map[string]any{"breaker": t.Breaker, "shared": t.Shared,
			"from": string(t.From), "to": string(t.To), "reason": t.Reason})
	}
	return map[string]any{"op": "breakers", "shared": shared, "transitions": transitions}, nil
}

// replayRetry replays a retry_call step: each attempt reserved through the retrier (a refused
// one re-worded by it), settled or released as the scenario says, and the retrier asked after
// each failure. Nothing sleeps.
func replayRetry(e *wflo.Engine, x *wflo.Execution, step parityStep) ([]map[string]any, error) {
	r, err := e.Retrier(*step.Policy)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	events := []map[string]any{}
	for _, a := range step.Attempts {
		n := r.Attempt()
		res, _, err := r.ReserveRequest(x, step.Format, step.Request, nil)
		if err != nil {
			events = append(events, map[string]any{"op": "attempt", "attempt": n, "error": parityCode(err),
				"message": messageOf(err)})
			break
		}
		events = append(events, map[string]any{"op": "attempt", "attempt": n, "error": nil})
		if a["result"] != nil {
			_, err := res.SettleResult(step.Format, a["result"], "ok")
			res.Close()
			if err != nil {
				return nil, err
			}
			break
		}
		var f struct {
			Kind    wflo.FailureKind `json:"kind"`
			Status  *int             `json:"status"`
			Headers [][2]string      `json:"headers"`
			Message string           `json:"message"`
		}
		if err := json.Unmarshal(a["failure"], &f); err != nil {
			return nil, err
		}
		if a["text"] != nil {
			var text string
			if err := json.Unmarshal(a["text"], &text); err != nil {
				return nil, err
			}
			_, err = res.SettleText(text, "error") // failed after its output was billed
		} else {
			err = res.Release("error", f.Message)
		}
		res.Close()
		if err != nil {
			return nil, err
		}
		failure := wflo.Failure{Kind: f.Kind, Headers: http.Header{}, Message: f.Message}
		if f.Status != nil {
			failure.Status = *f.Status
		}
		for _, h := range f.Headers {
			failure.Headers.Add(h[0], h[1])
		}
		d, err := r.Next(failure)
		if err != nil {
			return nil, err
		}
		if !d.Retry {
			events = append(events, map[string]any{"op": "retry", "decision": "give_up", "why": d.Why, "reason": d.Reason})
			break
		}
		events = append(events, map[string]any{"op": "retry", "decision": "retry", "attempt": d.Attempt,
			"delay_ms": d.Delay.Milliseconds(), "reason": d.Reason})
	}
	return events, nil
}

// replayResource replays a resource step: the resource made with the scenario's config, each
// action an acquisition (its permit kept by workflow), a release or the statistics.
func replayResource(e *wflo.Engine, step parityStep) ([]map[string]any, error) {
	var config wflo.LockConfig
	if err := json.Unmarshal(step.Config, &config); err != nil {
		return nil, err
	}
	res, err := e.Resource(step.Name, &config)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	permits := map[string]*wflo.Permit{}
	events := []map[string]any{}
	for _, raw := range step.Actions {
		var a struct {
			Acquire   *string `json:"acquire"`
			TimeoutMS *int64  `json:"timeout_ms"`
			Release   *string `json:"release"`
			Stats     bool    `json:"stats"`
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, err
		}
		switch {
		case a.Acquire != nil:
			timeout := wflo.ConfiguredTimeout
			if a.TimeoutMS != nil {
				timeout = time.Duration(*a.TimeoutMS) * time.Millisecond
			}
			var code any
			p, err := res.Acquire(context.Background(), *a.Acquire, timeout)
			if err != nil {
				code = parityCode(err)
			} else {
				permits[*a.Acquire] = p
			}
			events = append(events, map[string]any{"op": "resource", "action": "acquire", "workflow": *a.Acquire, "error": code})
		case a.Release != nil:
			if err := permits[*a.Release].Release(); err != nil {
				return nil, err
			}
			delete(permits, *a.Release)
			events = append(events, map[string]any{"op": "resource", "action": "release", "workflow": *a.Release})
		case a.Stats:
			s, err := res.Stats()
			if err != nil {
				return nil, err
			}
			holders := []string{}
			for _, h := range s.Holders {
				holders = append(holders, h.WorkflowID)
			}
			events = append(events, map[string]any{"op": "resource", "action": "stats", "acquisitions": s.Acquisitions,
				"contentions": s.Contentions, "timeouts": s.Timeouts, "holders": holders})
		default:
			return nil, fmt.Errorf("unknown resource action %s", raw)
		}
	}
	return events, nil
}

// replayApproval replays an approval step: asked without waiting, decided when the scenario
// says, then waited for with a zero wait.
func replayApproval(e *wflo.Engine, x *wflo.Execution, step parityStep) (map[string]any, error) {
	var req wflo.ApprovalRequest
	if err := json.Unmarshal(step.Request, &req); err != nil {
		return nil, err
	}
	asked, err := x.RequestApproval(req)
	if err != nil {
		return nil, err
	}
	if d := step.Decide; d != nil {
		decide := e.Deny
		if d.Approve {
			decide = e.Approve
		}
		if _, err := decide(asked.ID, deref(d.Note), deref(d.By)); err != nil {
			return nil, err
		}
	}
	event := map[string]any{"op": "approval", "gate": req.Gate, "asked": asked.Status}
	a, err := x.WaitForApproval(context.Background(), asked.ID, 0)
	var denied *wflo.ApprovalDeniedError
	switch {
	case err == nil:
		event["status"], event["decided_by"], event["note"] = a.Status, a.DecidedBy, a.Note
		event["error"], event["timed_out"] = nil, nil
	case errors.As(err, &denied):
		event["status"], event["decided_by"], event["note"] = nil, orNil(denied.By), orNil(denied.Note)
		event["error"], event["timed_out"] = parityCode(err), denied.TimedOut
	default:
		return nil, err
	}
	return event, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// orNil is s, or JSON null for "" (none recorded).
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// messageOf is a wflo error's message as the engine worded it (without the "wflo: " prefix).
func messageOf(err error) string {
	var be *wflo.BudgetExceededError
	var co *wflo.CircuitOpenError
	var um *wflo.UnknownModelError
	var e *wflo.Error
	switch {
	case errors.As(err, &be):
		return be.Message
	case errors.As(err, &co):
		return co.Message
	case errors.As(err, &um):
		return um.Message
	case errors.As(err, &e):
		return e.Message
	}
	return err.Error()
}

// settleOutcome ends a reserved call the way the scenario says it went.
func settleOutcome(res *wflo.Reservation, step parityStep) error {
	o := step.Outcome
	str := func(key string) (string, error) {
		var v string
		return v, json.Unmarshal(o[key], &v)
	}
	switch {
	case o["result"] != nil:
		status := "" // absent: "ok"
		if o["status"] != nil {
			var err error
			if status, err = str("status"); err != nil {
				return err
			}
		}
		_, err := res.SettleResult(step.Format, o["result"], status)
		return err
	case o["stream"] != nil:
		var events []json.RawMessage
		if err := json.Unmarshal(o["stream"], &events); err != nil {
			return err
		}
		status, err := str("status")
		if err != nil {
			return err
		}
		stream, err := wflo.NewStream(step.Format)
		if err != nil {
			return err
		}
		defer stream.Close()
		for _, event := range events {
			if err := stream.Push(event); err != nil {
				return err
			}
		}
		_, err = res.SettleStream(stream, status)
		return err
	case o["error"] != nil:
		msg, err := str("error")
		if err != nil {
			return err
		}
		return res.Release("error", msg)
	case o["text"] != nil:
		text, err := str("text")
		if err != nil {
			return err
		}
		status, err := str("status")
		if err != nil {
			return err
		}
		_, err = res.SettleText(text, status)
		return err
	}
	return fmt.Errorf("unknown outcome %v", o)
}

// expectedEvents is how many events a scenario's steps append: one each, a breaker or resource
// step one per action; -1 when a retry_call's count depends on its decisions.
func expectedEvents(s parityScenario) int {
	n := 0
	for _, step := range s.Steps {
		switch step.Op {
		case "retry_call":
			return -1
		case "breaker", "resource":
			n += len(step.Actions)
		default:
			n++
		}
	}
	return n
}

func TestParityScenarios(t *testing.T) {
	var file struct {
		Scenarios []parityScenario `json:"scenarios"`
	}
	vector(t, "scenarios.json", &file)
	if len(file.Scenarios) == 0 {
		t.Fatal("no scenarios")
	}
	ledgers := make([]parityLedger, 0, len(file.Scenarios))
	for i, s := range file.Scenarios {
		l := replayScenario(t, i, s)
		if want := expectedEvents(s); l.ReservedNanos != 0 || (want >= 0 && len(l.Events) != want) {
			t.Errorf("%s: %d nano-USD left held, %d events, want %d", s.Name, l.ReservedNanos, len(l.Events), want)
		}
		ledgers = append(ledgers, l)
		switch s.Name {
		case "approval_threshold_gates_costly_calls":
			errs := []any{}
			for _, ev := range l.Events {
				errs = append(errs, ev["error"])
			}
			if fmt.Sprint(errs) != "[<nil> <nil> <nil> APPROVAL_DENIED APPROVAL_DENIED]" || len(l.Calls) != 2 {
				t.Errorf("%s: errors %v, %d calls", s.Name, errs, len(l.Calls))
			}
		case "agent_budgets_and_call_cap":
			errs, steps := []any{}, []string{}
			for _, ev := range l.Events {
				errs = append(errs, ev["error"])
			}
			for _, c := range l.Calls {
				steps = append(steps, c.Step+"="+c.Status)
			}
			if fmt.Sprint(errs) != "[<nil> BUDGET_EXCEEDED <nil> <nil> CALL_LIMIT]" ||
				fmt.Sprint(steps) != "[agent:researcher=ok agent:researcher=refused agent:writer=ok =ok =refused]" ||
				l.Status != "failed" {
				t.Errorf("%s: errors %v, calls %v, status %s", s.Name, errs, steps, l.Status)
			}
		case "breaker_wrapper_counts_failures_not_refusals":
			states := []any{}
			for _, ev := range l.Events[:9] {
				states = append(states, ev["state"])
			}
			if fmt.Sprint(states) != "[closed closed closed closed closed closed closed open open]" ||
				l.Events[8]["called"] != false || l.Events[8]["error"] != "CIRCUIT_OPEN" {
				t.Errorf("%s: states %v, last %v", s.Name, states, l.Events[8])
			}
		}
	}
	dir := os.Getenv("WFLO_PARITY_DIR")
	if dir == "" {
		return
	}
	out, err := json.MarshalIndent(map[string]any{"face": "go", "scenarios": ledgers}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.json"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEndFollowsTheErrorChain(t *testing.T) {
	e := memoryEngine(t)
	cases := []struct {
		err  error
		want string
	}{
		{nil, "completed"},
		{errors.New("foreign"), "failed"},
		{raised([]string{"STORAGE"}), "failed"},
		{raised([]string{"INTERNAL", "BUDGET_EXCEEDED"}), "budget_exceeded"},
		{fmt.Errorf("step: %w", wflo.ErrBudgetExceeded), "budget_exceeded"},
		{errors.Join(errors.New("other"), fmt.Errorf("deep: %w", &wflo.BudgetExceededError{})), "budget_exceeded"},
	}
	for i, c := range cases {
		x, err := e.StartExecution(wflo.ExecutionOptions{Name: "end"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.End(c.err)
		if err != nil || got != c.want {
			t.Errorf("case %d (%v): %q %v, want %q", i, c.err, got, err, c.want)
		}
		if b, _ := x.Breakdown(); b.Status != c.want {
			t.Errorf("case %d: the stored status is %q, want %q", i, b.Status, c.want)
		}
		x.Close()
	}
}

func TestZeroIsABudgetAndNilIsNoLimit(t *testing.T) {
	e := memoryEngine(t)
	request := []byte(`{"model": "gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}`)
	zero, err := e.StartExecution(wflo.ExecutionOptions{Name: "zero", BudgetUSD: wflo.USD(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer zero.Close()
	if _, _, err := zero.ReserveRequest("openai_chat", request, nil); !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("a zero budget must refuse: %v", err)
	}
	if b, _ := zero.Breakdown(); b.BudgetNanos == nil || *b.BudgetNanos != 0 {
		t.Fatalf("budget of a zero budget: %v", b.BudgetNanos)
	}
	open, err := e.StartExecution(wflo.ExecutionOptions{Name: "open"})
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	step, err := open.Scope("step", wflo.USD(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := step.ReserveRequest("openai_chat", request, nil); !errors.Is(err, wflo.ErrBudgetExceeded) {
		t.Fatalf("a step budget of zero must refuse: %v", err)
	}
	r, body, err := open.ReserveRequest("openai_chat", request, nil)
	if err != nil {
		t.Fatalf("no limit must not refuse: %v", err)
	}
	defer r.Close()
	if !bytes.Contains(body, []byte(`"max_tokens":10`)) {
		t.Fatalf("body to send: %s", body)
	}
	if b, _ := open.Breakdown(); b.BudgetNanos != nil {
		t.Fatalf("no limit has a budget: %v", *b.BudgetNanos)
	}
	if err := e.DefineSharedScope("tenant:zero", wflo.USD(0), "none"); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.SharedScope("tenant:zero"); s.LimitNanos == nil || *s.LimitNanos != 0 {
		t.Fatalf("shared limit of zero: %+v", s)
	}
	if err := e.DefineSharedScope("tenant:open", nil, "none"); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.SharedScope("tenant:open"); s.LimitNanos != nil {
		t.Fatalf("shared scope without limit: %+v", s)
	}
}
