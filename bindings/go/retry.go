package wflo

// Retry: the Go loop around a Retrier. It converts each error into a Failure, asks the engine
// what to do, and waits on a timer that ctx can cancel; every rule is the engine's.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"
)

// HTTPError is an HTTP error answer as a Go error: Retry classifies it as an "http" failure
// with its status and headers (Retry-After and the rate-limit headers set the wait).
type HTTPError struct {
	StatusCode int
	// Status is the status line ("429 Too Many Requests").
	Status string
	Header http.Header
}

// NewHTTPError is the error of an answer resp whose status is an error.
func NewHTTPError(resp *http.Response) *HTTPError {
	return &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, Header: resp.Header.Clone()}
}

func (e *HTTPError) Error() string {
	if e.Status != "" {
		return e.Status
	}
	return http.StatusText(e.StatusCode)
}

// RetryExhaustedError is what Retry returns when the engine gives up on a retryable failure
// (its retries used up, or its deadline near): Reason is the engine's (for example "500
// Internal Server Error; gave up after 2 attempts (max_retries 1)"), Err the last attempt's
// error (errors.Is and errors.As see it).
type RetryExhaustedError struct {
	Attempts int
	Why      GiveUpWhy
	Reason   string
	Err      error
}

func (e *RetryExhaustedError) Error() string { return "wflo: " + e.Reason }
func (e *RetryExhaustedError) Unwrap() error { return e.Err }

// RetryOption configures Retry.
type RetryOption func(*retryConfig)

type retryConfig struct {
	classify  func(error) (Failure, bool)
	transient func(error) bool
}

// WithClassifier converts an attempt's error into a Failure before the built-in conversion:
// return false to leave err to it.
func WithClassifier(classify func(err error) (Failure, bool)) RetryOption {
	return func(c *retryConfig) { c.classify = classify }
}

// RetryTransient declares errors retryable whatever their type (a flaky tool's own error):
// those for which is returns true are "transient" failures, retried while attempts last.
func RetryTransient(is func(err error) bool) RetryOption {
	return func(c *retryConfig) { c.transient = is }
}

type retrierKey struct{}

// WithRetrier returns a context carrying r: Middleware reserves the requests made with it
// through r, so a retry the budget refuses says which attempt was not sent (Retry does this
// for the context it passes to each attempt).
func WithRetrier(ctx context.Context, r *Retrier) context.Context {
	return context.WithValue(ctx, retrierKey{}, r)
}

// RetrierFrom is the retrier ctx carries (Retry's, inside an attempt), or nil.
func RetrierFrom(ctx context.Context) *Retrier {
	r, _ := ctx.Value(retrierKey{}).(*Retrier)
	return r
}

// Retry calls attempt until it returns nil, asking the engine after each error whether and
// when to try again, and waiting that long (or until ctx is done). attempt gets a context
// carrying the retrier (WithRetrier) and the attempt number (1 for the first); reserve each
// attempt through Middleware or RetrierFrom(ctx).ReserveRequest.
//
// The error returned is: nil; the attempt's error as it is when the engine deems it not
// retryable (a refusal by wflo — IsRefusal: a budget, an open breaker, a busy resource, a
// denied approval — never is, and is returned after one call); the last error wrapped in a
// *RetryExhaustedError when the retries are used up or the deadline is near; or ctx's error
// joined with the last one when ctx ends first.
//
// An error becomes a Failure by WithClassifier, else: a refusal by wflo (IsRefusal) → "refused";
// RetryTransient → "transient"; an *HTTPError or an error with a StatusCode() int method →
// "http" (with an *HTTPError's headers, or a Header() http.Header method's); a deadline or a
// net.Error timeout → "timeout"; a *net.OpError, a reset or refused connection or an
// unexpected EOF → "connection"; anything else → "other".
func Retry(ctx context.Context, e *Engine, policy RetryPolicy, attempt func(ctx context.Context, attempt int) error,
	opts ...RetryOption) error {
	var cfg retryConfig
	for _, o := range opts {
		o(&cfg)
	}
	r, err := e.Retrier(policy)
	if err != nil {
		return err
	}
	defer r.Close()
	actx := WithRetrier(ctx, r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := r.Attempt()
		err := attempt(actx, n)
		if err == nil {
			return nil
		}
		f := cfg.failure(err)
		d, nerr := r.Next(f)
		if nerr != nil {
			return errors.Join(err, nerr)
		}
		if !d.Retry {
			if d.Why == GiveUpNotRetryable {
				return err
			}
			return &RetryExhaustedError{Attempts: n, Why: d.Why, Reason: d.Reason, Err: err}
		}
		t := time.NewTimer(d.Delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(ctx.Err(), err)
		case <-t.C:
		}
	}
}

// failure converts an attempt's error into the Failure the engine reads.
func (c *retryConfig) failure(err error) Failure {
	if c.classify != nil {
		if f, ok := c.classify(err); ok {
			if f.Message == "" {
				f.Message = err.Error()
			}
			return f
		}
	}
	return classify(err, c.transient)
}

func classify(err error, transient func(error) bool) Failure {
	f := Failure{Kind: FailureOther, Message: err.Error()}
	var he *HTTPError
	var sc interface{ StatusCode() int }
	var hd interface{ Header() http.Header }
	var ne net.Error
	var op *net.OpError
	switch {
	case IsRefusal(err):
		f.Kind = FailureRefused
	case transient != nil && transient(err):
		f.Kind = FailureTransient
	case errors.As(err, &he):
		f.Kind, f.Status, f.Headers = FailureHTTP, he.StatusCode, he.Header
	case errors.As(err, &sc):
		f.Kind, f.Status = FailureHTTP, sc.StatusCode()
		if errors.As(err, &hd) {
			f.Headers = hd.Header()
		}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		f.Kind = FailureTimeout
	case errors.As(err, &op), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF):
		f.Kind = FailureConnection
	}
	return f
}
