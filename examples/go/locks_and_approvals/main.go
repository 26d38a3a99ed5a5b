// Locks and approval gates from Go: two workers share a lock held in the store (so workers in
// other processes on the same store would wait too), and a step waits for a person — here
// approved by Engine.Approve from another goroutine; in real life `wflo approve ID`.
//
//	go run ./locks_and_approvals
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"sync"
	"time"

	wflo "github.com/wflo-dev/wflo/bindings/go"
)

func main() {
	engine, err := wflo.Open("memory://")
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	ctx := context.Background()

	// A lock: one migration at a time; a worker waits up to 2 s, then gets a *ResourceBusyError.
	lock, err := engine.Resource("db-migration", &wflo.LockConfig{Timeout: 2 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer lock.Close()
	var wg sync.WaitGroup
	for _, worker := range []string{"wf-a", "wf-b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := wflo.WithLock(ctx, lock, worker, func() error {
				time.Sleep(20 * time.Millisecond) // the migration
				return nil
			})
			if err != nil {
				log.Fatal(err)
			}
		}()
	}
	wg.Wait()
	held, _ := lock.Acquire(ctx, "wf-c", 0)
	_, err = lock.Acquire(ctx, "wf-d", 0) // no wait: busy
	var busy *wflo.ResourceBusyError
	if errors.As(err, &busy) {
		fmt.Printf("busy: %s is held by %v\n", busy.Resource, busy.Holders)
	}
	held.Release()
	stats, _ := lock.Stats()
	fmt.Printf("lock: %d acquisitions, %d timeouts\n", stats.Acquisitions, stats.Timeouts)

	// An approval gate: the workflow waits until someone decides.
	exec, err := engine.StartExecution(wflo.ExecutionOptions{Name: "newsletter", BudgetUSD: wflo.USD(1)})
	if err != nil {
		log.Fatal(err)
	}
	defer exec.Close()
	go func() {
		for {
			pending, _ := engine.Approvals(true)
			if len(pending) > 0 {
				fmt.Printf("pending: %s (%s)\n", pending[0].What, pending[0].Why)
				_, _ = engine.Approve(pending[0].ID, "copy checked", "ana")
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	a, err := exec.RequireApproval(ctx, wflo.ApprovalRequest{Gate: "publish", Why: "emails 12,000 customers",
		WorstCaseUSD: "0.25", Timeout: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s by %s: %s\n", a.Status, *a.DecidedBy, *a.Note)

	// A denial is a typed error with who and why.
	asked, _ := exec.RequestApproval(wflo.ApprovalRequest{Gate: "delete-index"})
	_, _ = engine.Deny(asked.ID, "not on a Friday", "bo")
	_, err = exec.WaitForApproval(ctx, asked.ID, 0)
	var denied *wflo.ApprovalDeniedError
	if errors.As(err, &denied) {
		fmt.Printf("denied by %s: %s\n", denied.By, denied.Note)
	}
	status, _ := exec.End(err)
	fmt.Println("finished:", status)
}
