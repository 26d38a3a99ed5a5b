package wflo_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func vector(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "tests", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func codeOf(err error) string {
	var be *wflo.BudgetExceededError
	var um *wflo.UnknownModelError
	var co *wflo.CircuitOpenError
	var rb *wflo.ResourceBusyError
	var ad *wflo.ApprovalDeniedError
	var ap *wflo.ApprovalPendingError
	var e *wflo.Error
	switch {
	case errors.As(err, &be):
		return "BUDGET_EXCEEDED"
	case errors.As(err, &co):
		return "CIRCUIT_OPEN"
	case errors.As(err, &rb):
		return "RESOURCE_BUSY"
	case errors.As(err, &ad):
		return "APPROVAL_DENIED"
	case errors.As(err, &ap):
		return "APPROVAL_PENDING"
	case errors.As(err, &um):
		return "UNKNOWN_MODEL"
	case errors.As(err, &e):
		return e.Code.String()
	}
	return "?"
}

func memoryEngine(t *testing.T) *wflo.Engine {
	t.Helper()
	e, err := wflo.Open("memory://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestPricingVectors(t *testing.T) {
	var file struct {
		Cases []struct {
			Name          string     `json:"name"`
			Model         string     `json:"model"`
			Usage         wflo.Usage `json:"usage"`
			ExpectedNanos uint64     `json:"expected_nanos"`
			Resolved      string     `json:"resolved"`
			Error         string     `json:"error"`
		} `json:"cases"`
	}
	vector(t, "pricing.json", &file)
	e := memoryEngine(t)
	for _, c := range file.Cases {
		got, err := e.Cost(c.Model, c.Usage)
		switch {
		case c.Error != "":
			if codeOf(err) != c.Error {
				t.Errorf("%s: got %v, want %s", c.Name, err, c.Error)
			}
		case err != nil:
			t.Errorf("%s: %v", c.Name, err)
		case got != c.ExpectedNanos:
			t.Errorf("%s: %d nanos, want %d", c.Name, got, c.ExpectedNanos)
		default:
			p, err := e.Price(c.Model)
			if err != nil || p.Resolved != c.Resolved {
				t.Errorf("%s: resolved %q (%v), want %q", c.Name, p.Resolved, err, c.Resolved)
			}
		}
	}
}

func TestUsageVectors(t *testing.T) {
	var file struct {
		Cases []struct {
			Name         string            `json:"name"`
			Format       string            `json:"format"`
			Payload      json.RawMessage   `json:"payload"`
			PayloadText  *string           `json:"payload_text"`
			Events       []json.RawMessage `json:"events"`
			Expected     *wflo.Usage       `json:"expected"`
			UsageMissing bool              `json:"usage_missing"`
			Text         string            `json:"text"`
			Error        string            `json:"error"`
		} `json:"cases"`
	}
	vector(t, "usage.json", &file)
	if len(file.Cases) < 45 {
		t.Fatalf("only %d usage cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		var got wflo.Usage
		var err error
		var state *wflo.StreamState
		if format, ok := cutSuffix(c.Format, "_stream"); ok {
			s, serr := wflo.NewStream(format)
			if serr != nil {
				t.Fatal(serr)
			}
			for _, ev := range c.Events {
				if err = s.Push(ev); err != nil {
					break
				}
			}
			if err == nil {
				st, serr := s.State()
				if serr != nil {
					t.Fatal(serr)
				}
				state = &st
				if st.Usage != nil {
					got = *st.Usage
				}
			}
			s.Close()
		} else {
			payload := []byte(c.Payload)
			if c.PayloadText != nil {
				payload = []byte(*c.PayloadText)
			}
			got, err = wflo.ParseUsage(c.Format, payload)
		}
		switch {
		case c.Error != "":
			if codeOf(err) != c.Error {
				t.Errorf("%s: got %v, want %s", c.Name, err, c.Error)
			}
		case err != nil:
			t.Errorf("%s: %v", c.Name, err)
		case c.UsageMissing:
			if state == nil || (state.Usage != nil && state.Complete) || state.Text != c.Text {
				t.Errorf("%s: want usage missing and text %q, got %+v", c.Name, c.Text, state)
			}
		case c.Expected != nil && got != *c.Expected:
			t.Errorf("%s: got %+v, want %+v", c.Name, got, *c.Expected)
		}
	}
}

func cutSuffix(s, suffix string) (string, bool) {
	if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
}

func TestTokenVectors(t *testing.T) {
	var file struct {
		Texts []struct {
			Name   string `json:"name"`
			Text   string `json:"text"`
			O200k  uint64 `json:"o200k_base"`
			Cl100k uint64 `json:"cl100k_base"`
		} `json:"texts"`
		Chat []struct {
			Name     string          `json:"name"`
			Encoding string          `json:"encoding"`
			Messages json.RawMessage `json:"messages"`
			Expected uint64          `json:"expected"`
		} `json:"chat"`
	}
	vector(t, "tokens.json", &file)
	e := memoryEngine(t)
	for _, c := range file.Texts {
		for model, want := range map[string]uint64{"gpt-4o": c.O200k, "gpt-4": c.Cl100k} {
			got, err := e.CountTokens(model, c.Text)
			if err != nil || got.Tokens != want || got.Estimated {
				t.Errorf("%s [%s]: %+v %v, want %d", c.Name, model, got, err, want)
			}
		}
	}
	for _, c := range file.Chat {
		model := "gpt-4"
		if c.Encoding == "o200k_base" {
			model = "gpt-4o"
		}
		got, err := e.CountChatTokens(model, []byte(c.Messages))
		if err != nil || got.Tokens != c.Expected {
			t.Errorf("%s: %+v %v, want %d", c.Name, got, err, c.Expected)
		}
	}
}

func TestBudgetVectors(t *testing.T) {
	var file struct {
		Prices json.RawMessage `json:"prices"`
		Cases  []struct {
			Name      string  `json:"name"`
			BudgetUSD *string `json:"budget_usd"`
			Steps     []struct {
				Op              string          `json:"op"`
				ID              string          `json:"id"`
				Scope           string          `json:"scope"`
				Label           string          `json:"label"`
				BudgetUSD       *string         `json:"budget_usd"`
				Model           string          `json:"model"`
				InputTokens     uint64          `json:"input_tokens"`
				MaxOutputTokens uint64          `json:"max_output_tokens"`
				Estimated       bool            `json:"estimated"`
				CacheWrite      string          `json:"cache_write"`
				Clamp           bool            `json:"clamp"`
				Usage           wflo.Usage      `json:"usage"`
				Format          string          `json:"format"`
				Payload         json.RawMessage `json:"payload"`
				Expect          map[string]any  `json:"expect"`
			} `json:"steps"`
		} `json:"cases"`
	}
	vector(t, "budget.json", &file)
	usd := func(s *string) *float64 {
		if s == nil {
			return nil
		}
		n, err := wflo.ParseUSD(*s)
		if err != nil {
			t.Fatal(err)
		}
		return wflo.USD(wflo.NanosToUSD(n))
	}
	cacheWrite := map[string]string{"": "", "none": "", "five_minutes": "5m", "one_hour": "1h"}
	for _, c := range file.Cases {
		e := memoryEngine(t)
		if err := e.SetPrices(string(file.Prices)); err != nil {
			t.Fatal(err)
		}
		x, err := e.StartExecution(wflo.ExecutionOptions{Name: c.Name, BudgetUSD: usd(c.BudgetUSD)})
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]*wflo.Reservation{}
		for i, s := range c.Steps {
			actual := map[string]any{}
			fromErr := func(err error) {
				actual["error"] = codeOf(err)
				var be *wflo.BudgetExceededError
				if errors.As(err, &be) {
					actual["scope"], actual["limit_nanos"], actual["spent_nanos"] = be.Scope, float64(be.LimitNanos), float64(be.SpentNanos)
					actual["reserved_nanos"], actual["requested_nanos"] = float64(be.ReservedNanos), float64(be.RequestedNanos)
				}
			}
			fromRecord := func(r wflo.Settled, err error) {
				if err != nil {
					fromErr(err)
					return
				}
				actual["cost_nanos"], actual["overrun_nanos"] = float64(r.CostNanos), float64(r.OverrunNanos)
			}
			scope := func() *wflo.Scope {
				sc, err := x.Scope(s.Scope, nil)
				if err != nil {
					t.Fatal(err)
				}
				return sc
			}
			switch s.Op {
			case "scope":
				if _, err := x.Scope(s.Label, usd(s.BudgetUSD)); err != nil {
					t.Fatal(err)
				}
			case "reserve":
				est := s.Estimated
				req := wflo.CallRequest{Model: s.Model, InputTokens: s.InputTokens, InputEstimated: &est,
					MaxOutputTokens: s.MaxOutputTokens, CacheWrite: cacheWrite[s.CacheWrite], ClampMaxTokens: s.Clamp}
				var r *wflo.Reservation
				var err error
				if s.Scope != "" {
					r, err = scope().Reserve(req)
				} else {
					r, err = x.Reserve(req)
				}
				if err != nil {
					fromErr(err)
				} else {
					held[s.ID] = r
					actual["amount_nanos"], actual["max_output_tokens"] = float64(r.AmountNanos()), float64(r.MaxOutputTokens())
					actual["clamped"] = s.MaxOutputTokens > 0 && r.MaxOutputTokens() < s.MaxOutputTokens
				}
			case "settle":
				fromRecord(held[s.ID].Settle(s.Usage))
			case "settle_raw":
				fromRecord(held[s.ID].SettleJSON(s.Format, s.Payload))
			case "release":
				if err := held[s.ID].Release("error", "vector"); err != nil {
					fromErr(err)
				}
			case "record":
				u, _ := json.Marshal(s.Usage)
				fromRecord(x.RecordCall(s.Model, "wflo", u))
			case "breakdown":
				b, err := x.Breakdown()
				if err != nil {
					t.Fatal(err)
				}
				raw, _ := json.Marshal(b)
				_ = json.Unmarshal(raw, &actual)
			}
			for k, want := range s.Expect {
				if got, ok := actual[k]; !ok || got != want {
					t.Errorf("%s step %d: %s = %v, want %v", c.Name, i, k, actual[k], want)
				}
			}
		}
		for _, r := range held {
			r.Close()
		}
		x.Close()
	}
}
