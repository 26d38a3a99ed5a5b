package wflo_test

// Resources through the Go API: a semaphore never lets more than its slots in, a busy lock
// fails with a typed error naming its holders, two engines on one SQLite file share the
// slots, the statistics add up, and a context bounds the wait.

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func resource(t *testing.T, e *wflo.Engine, name string, config *wflo.LockConfig) *wflo.Resource {
	t.Helper()
	r, err := e.Resource(name, config)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestSemaphoreOfTwoNeverHasMoreThanTwoInside(t *testing.T) {
	e := memoryEngine(t)
	sem := resource(t, e, "gpu", &wflo.LockConfig{MaxConcurrent: 2, Timeout: 10 * time.Second})
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- wflo.WithLock(context.Background(), sem, "wf-"+string(rune('a'+i)), func() error {
				n := inside.Add(1)
				defer inside.Add(-1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				if n > 2 {
					return errors.New("more than two inside")
				}
				time.Sleep(10 * time.Millisecond)
				return nil
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if most.Load() > 2 || most.Load() < 1 {
		t.Fatalf("at most %d inside at once", most.Load())
	}
	s, err := sem.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Resource != "gpu" || s.Acquisitions != 6 || s.Timeouts != 0 || len(s.Holders) != 0 {
		t.Fatalf("stats after six holds: %+v", s)
	}
}

func TestBusyLockFailsWithItsHolders(t *testing.T) {
	e := memoryEngine(t)
	lock := resource(t, e, "db-migration", nil)
	held, err := lock.Acquire(context.Background(), "wf-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if held.Waited() != 0 || held.Resource() != "db-migration" {
		t.Fatalf("an uncontended acquisition: waited %v on %q", held.Waited(), held.Resource())
	}
	_, err = lock.Acquire(context.Background(), "wf-b", 50*time.Millisecond)
	var busy *wflo.ResourceBusyError
	if !errors.As(err, &busy) || !errors.Is(err, wflo.ErrResourceBusy) {
		t.Fatalf("want a ResourceBusyError: %#v", err)
	}
	if busy.Resource != "db-migration" || busy.Waited < 50*time.Millisecond || len(busy.Holders) != 1 ||
		!strings.HasPrefix(busy.Holders[0], "wf-a (") || !strings.Contains(busy.Message, "db-migration") {
		t.Fatalf("busy: %+v", busy)
	}
	if status, err := endWith(t, e, err); err != nil || status != "failed" {
		t.Fatalf("an execution ended by RESOURCE_BUSY: %q %v", status, err)
	}
	if ok, err := held.Renew(); !ok || err != nil {
		t.Fatalf("renew a live hold: %v %v", ok, err)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	if err := held.Release(); err != nil {
		t.Fatalf("releasing twice is fine: %v", err)
	}
	if ok, err := held.Renew(); ok || err != nil {
		t.Fatalf("renew a released hold: %v %v", ok, err)
	}
	next, err := lock.Acquire(context.Background(), "wf-b", 0)
	if err != nil {
		t.Fatalf("free once released: %v", err)
	}
	defer next.Release()
	s, err := lock.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Acquisitions != 2 || s.Timeouts != 1 || len(s.Holders) != 1 || s.Holders[0].WorkflowID != "wf-b" ||
		!s.Holders[0].LeaseUntil.After(s.Holders[0].AcquiredAt) || s.Holders[0].HoldID == "" {
		t.Fatalf("stats: %+v", s)
	}
}

// endWith ends a fresh execution with err and returns the status the engine gave it.
func endWith(t *testing.T, e *wflo.Engine, err error) (string, error) {
	t.Helper()
	x, xerr := e.StartExecution(wflo.ExecutionOptions{Name: "ended"})
	if xerr != nil {
		t.Fatal(xerr)
	}
	defer x.Close()
	return x.End(err)
}

func TestTwoEnginesOnOneFileShareTheSlots(t *testing.T) {
	db := filepath.Join(t.TempDir(), "locks.db")
	open := func() *wflo.Engine {
		e, err := wflo.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	one, two := open(), open()
	a := resource(t, one, "report", nil)
	b := resource(t, two, "report", nil)
	held, err := a.Acquire(context.Background(), "wf-one", 0)
	if err != nil {
		t.Fatal(err)
	}
	var busy *wflo.ResourceBusyError
	if _, err := b.Acquire(context.Background(), "wf-two", 0); !errors.As(err, &busy) ||
		!strings.HasPrefix(busy.Holders[0], "wf-one (") {
		t.Fatalf("the other engine must see the hold: %v", err)
	}
	// Released by one engine while the other waits: the waiter gets it.
	go func() {
		time.Sleep(30 * time.Millisecond)
		_ = held.Release()
	}()
	p, err := b.Acquire(context.Background(), "wf-two", 2*time.Second)
	if err != nil {
		t.Fatalf("the other engine's release must free the slot: %v", err)
	}
	if p.Waited() < 20*time.Millisecond {
		t.Fatalf("it waited only %v", p.Waited())
	}
	defer p.Release()
	sa, err := a.Stats()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if sa.Acquisitions != 2 || sa.Timeouts != 1 || len(sa.Holders) != 1 || sa.Holders[0].WorkflowID != "wf-two" ||
		sa.Acquisitions != sb.Acquisitions || sa.TotalWait != sb.TotalWait {
		t.Fatalf("both engines see the same figures: %+v vs %+v", sa, sb)
	}
}

func TestStatsAddUp(t *testing.T) {
	e := memoryEngine(t)
	lock := resource(t, e, "index", &wflo.LockConfig{ContentionThreshold: 10 * time.Millisecond})
	first, err := lock.Acquire(context.Background(), "wf-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(40 * time.Millisecond)
		_ = first.Release()
	}()
	second, err := lock.Acquire(context.Background(), "wf-2", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Acquire(context.Background(), "wf-3", 20*time.Millisecond); !errors.Is(err, wflo.ErrResourceBusy) {
		t.Fatalf("want busy: %v", err)
	}
	_ = second.Release()
	s, err := lock.Stats()
	if err != nil {
		t.Fatal(err)
	}
	// wf-2 waited past the 10 ms threshold, and so did wf-3, which gave up.
	if s.Acquisitions != 2 || s.Timeouts != 1 || s.Contentions != 2 || s.TotalWait != first.Waited()+second.Waited() ||
		s.MaxWait != max(first.Waited(), second.Waited()) || second.Waited() < 30*time.Millisecond || len(s.Holders) != 0 {
		t.Fatalf("stats: %+v (second waited %v)", s, second.Waited())
	}
	if err := lock.ResetStats(); err != nil {
		t.Fatal(err)
	}
	if s, _ := lock.Stats(); s.Acquisitions != 0 || s.Timeouts != 0 || s.Contentions != 0 || s.TotalWait != 0 {
		t.Fatalf("after reset: %+v", s)
	}
}

func TestContextBoundsTheWait(t *testing.T) {
	e := memoryEngine(t)
	lock := resource(t, e, "ctx", &wflo.LockConfig{Timeout: 150 * time.Millisecond})
	held, err := lock.Acquire(context.Background(), "holder", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	// A deadline sooner than the timeout shortens the engine's wait to it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = lock.Acquire(ctx, "late", wflo.ConfiguredTimeout)
	var busy *wflo.ResourceBusyError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &busy) || time.Since(start) > 140*time.Millisecond {
		t.Fatalf("deadline: %v after %v", err, time.Since(start))
	}

	// A cancellation returns at once; the engine's wait ends in the background.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start = time.Now()
	if _, err := lock.Acquire(ctx, "cancelled", wflo.ConfiguredTimeout); !errors.Is(err, context.Canceled) ||
		time.Since(start) > 140*time.Millisecond {
		t.Fatalf("cancel: %v after %v", err, time.Since(start))
	}
	if _, err := lock.Acquire(ctx, "cancelled", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("an ended context: %v", err)
	}

	// WithLock returns fn's error, and the lock is free afterwards.
	held.Release()
	boom := errors.New("boom")
	if err := wflo.WithLock(context.Background(), lock, "fn", func() error { return boom }); err != boom {
		t.Fatalf("WithLock: %v", err)
	}
	// The cancelled acquisition's background wait may still hold the slot for an instant.
	deadline := time.Now().Add(time.Second)
	for {
		p, err := lock.Acquire(context.Background(), "after", 0)
		if err == nil {
			p.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock stays held: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestLockConfigJSONAndBadArguments(t *testing.T) {
	text, err := json.Marshal(wflo.LockConfig{MaxConcurrent: 3, Timeout: 1500 * time.Microsecond, Lease: time.Minute})
	if err != nil || string(text) != `{"max_concurrent":3,"timeout_ms":2,"lease_ms":60000}` {
		t.Fatalf("marshal: %s %v", text, err)
	}
	var c wflo.LockConfig
	if err := json.Unmarshal([]byte(`{"max_concurrent": 2, "contention_threshold_ms": 600000}`), &c); err != nil ||
		c != (wflo.LockConfig{MaxConcurrent: 2, ContentionThreshold: 10 * time.Minute}) {
		t.Fatalf("unmarshal: %+v %v", c, err)
	}
	if err := json.Unmarshal([]byte(`{"slots": 2}`), &c); !errors.Is(err, wflo.ErrInvalidArgument) {
		t.Fatalf("unknown key: %v", err)
	}
	e := memoryEngine(t)
	for _, bad := range []struct {
		name   string
		config *wflo.LockConfig
	}{{"", nil}, {"x", &wflo.LockConfig{MaxConcurrent: 10_001}}, {"x", &wflo.LockConfig{Timeout: -time.Second}}} {
		if _, err := e.Resource(bad.name, bad.config); !errors.Is(err, wflo.ErrInvalidArgument) {
			t.Errorf("%q %+v: %v", bad.name, bad.config, err)
		}
	}
	r := resource(t, e, "closed", nil)
	r.Close()
	r.Close()
	if _, err := r.Acquire(context.Background(), "w", 0); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("a closed handle: %v", err)
	}
	if _, err := r.Stats(); !errors.Is(err, wflo.ErrClosed) {
		t.Fatalf("a closed handle: %v", err)
	}
}
