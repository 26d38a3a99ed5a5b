package wflo_test

// Price files through the Go API: a LiteLLM file adds a model and changes one, a bad file is
// refused whole with its line, and the breakdown names the table.

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func TestLoadPrices(t *testing.T) {
	e := memoryEngine(t)
	if _, err := e.Cost("acme-frontier-9", wflo.Usage{Input: 1}); !errors.Is(err, wflo.ErrUnknownModel) {
		t.Fatalf("before the file: %v", err)
	}
	changes, err := e.LoadPrices(filepath.Join("..", "..", "tests", "vectors", "prices", "next-release.json"))
	if err != nil {
		t.Fatal(err)
	}
	if changes.Format != "litellm" || len(changes.Added) != 1 || changes.Added[0] != "acme-frontier-9" ||
		len(changes.Changed) != 1 || changes.Changed[0].Name != "gpt-4o" || changes.Changed[0].Fields[0].Field != "input" {
		t.Fatalf("changes: %+v", changes)
	}
	// $3 per million input tokens, from the file (above 200k tokens its long-context tier).
	if cost, err := e.Cost("acme-frontier-9", wflo.Usage{Input: 100_000}); err != nil || cost != 300_000_000 {
		t.Fatalf("cost %d, %v", cost, err)
	}
	table, err := e.PriceTable()
	if err != nil || len(table.Files) != 1 || table.Files[0].Format != "litellm" || table.Version == "" {
		t.Fatalf("table %+v, %v", table, err)
	}
	x, err := e.StartExecution(wflo.ExecutionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	b, err := x.Breakdown()
	if err != nil || !strings.Contains(b.PriceTable, "+ next-release.json (LiteLLM, ") {
		t.Fatalf("breakdown price table %q, %v", b.PriceTable, err)
	}
}

func TestBadPriceFileIsRefusedWhole(t *testing.T) {
	e := memoryEngine(t)
	path := filepath.Join(t.TempDir(), "bad.json")
	text := "{\"models\": [\n {\"name\": \"in-house\", \"input\": 1, \"output\": 1},\n {\"name\": \"gpt-4o\", \"input\": \"cheap\"}\n]}"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := e.LoadPrices(path)
	if !errors.Is(err, wflo.ErrInvalidArgument) || !strings.Contains(err.Error(), "bad.json, line 3") {
		t.Fatalf("bad file: %v", err)
	}
	if _, err := e.Cost("in-house", wflo.Usage{Input: 1}); !errors.Is(err, wflo.ErrUnknownModel) {
		t.Fatalf("an entry before the bad line was applied: %v", err)
	}
}
