package wflo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Next sends a request on (openai-go's option.MiddlewareNext has this type).
type Next = func(*http.Request) (*http.Response, error)

// Middleware meters every OpenAI Chat Completions, OpenAI Responses and Anthropic Messages
// request an HTTP client sends, with the execution the request's context carries
// (WithExecution / WithScope): the engine reads the request (prompt, tools, output limit, n)
// and reserves its worst case BEFORE the request leaves the process — a call that could
// overspend returns a *BudgetExceededError and is never sent — and the request is sent as the
// engine returns it (the output limit reserved for written in, include_usage requested for
// OpenAI streams). The response is settled after: from its usage, else estimated from its
// text (flagged); streams when they end. The provider is the one the request's host names.
// Requests without an execution in their context pass through untouched.
//
// A request that fails (an HTTP error status, a transport error, the client's timeout)
// releases its reservation and is recorded as an "error" call that cost nothing; a stream
// that fails mid-way is recorded as an "error" charged for what it streamed (estimated), one
// the caller closes early as "aborted". openai-go calls the middleware once per attempt, so
// each of its retries is reserved, sent and recorded on its own.
//
// With WithRetries, a request that fails with a status the engine deems retryable (429,
// 5xx, …), a timeout or a connection error is sent again after the engine's delay, each
// attempt reserved on its own; a retry the budget refuses returns its *BudgetExceededError,
// saying which attempt was not sent. Inside Retry (a context with WithRetrier), requests are
// reserved through Retry's retrier for the same wording; leave WithRetries off there, or
// both loops retry.
//
// It has the shape of openai-go's and anthropic-sdk-go's option.Middleware, so the same
// function meters both official clients:
//
//	client := openai.NewClient(option.WithMiddleware(wflo.Middleware()))
//	claude := anthropic.NewClient(option.WithMiddleware(wflo.Middleware()))
//
// Both SDKs retry a failed attempt (two retries by default); a refusal is not retried: it
// comes back with a stand-in response carrying x-should-retry: false (and X-Wflo-Refused),
// which both SDKs honour, so a refused call is refused once and never sent. A context with
// WithAgent charges its requests to that agent's scope.
func Middleware(opts ...MiddlewareOption) func(*http.Request, Next) (*http.Response, error) {
	cfg := middlewareConfigOf(opts)
	return func(req *http.Request, next Next) (*http.Response, error) {
		resp, err := meter(req, next, cfg)
		return unretried(req, resp, err)
	}
}

// Transport wraps an http.RoundTripper with the same metering, for any HTTP client.
func Transport(base http.RoundTripper, opts ...MiddlewareOption) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	cfg := middlewareConfigOf(opts)
	return roundTripper(func(req *http.Request) (*http.Response, error) { return meter(req, base.RoundTrip, cfg) })
}

// MiddlewareOption configures Middleware and Transport.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	retry *RetryPolicy
}

// WithRetries retries failed requests by policy (see Middleware). openai-go retries on its
// own too: give it option.WithMaxRetries(0) to leave retries to wflo.
func WithRetries(policy RetryPolicy) MiddlewareOption {
	return func(c *middlewareConfig) { c.retry = &policy }
}

func middlewareConfigOf(opts []MiddlewareOption) middlewareConfig {
	var c middlewareConfig
	for _, o := range opts {
		o(&c)
	}
	return c
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wireOf is the request format libwflo reads for a request's route: HTTP routing, the
// one thing the middleware decides; reading the body is the engine's.
func wireOf(req *http.Request) (string, bool) {
	p := strings.TrimRight(req.URL.Path, "/")
	switch {
	case req.Method != http.MethodPost:
		return "", false
	case strings.HasSuffix(p, "/chat/completions"):
		return "openai_chat", true
	case strings.HasSuffix(p, "/responses"):
		return "openai_responses", true
	case strings.HasSuffix(p, "/messages"):
		return "anthropic", true
	}
	return "", false
}

func meter(req *http.Request, next Next, cfg middlewareConfig) (*http.Response, error) {
	x, scope, ok := ExecutionFrom(req.Context())
	format, metered := wireOf(req)
	// TrackLLMCall reserved this call up front already: one call is never charged twice.
	if !ok || !metered || req.Body == nil || tracked(req.Context()) {
		return next(req)
	}
	raw, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	// The host names the provider (api.x.ai → xai); the engine reads everything else.
	opts := &RequestOptions{Agent: AgentFrom(req.Context())}
	if req.URL.Scheme != "" && req.URL.Host != "" {
		opts.BaseURL = req.URL.Scheme + "://" + req.URL.Host
	}
	var target Target = x
	if scope != nil {
		target = scope
	}
	retrier := RetrierFrom(req.Context())
	if cfg.retry != nil {
		if retrier, err = x.Engine().Retrier(*cfg.retry); err != nil {
			return nil, err
		}
		defer retrier.Close()
	}
	for {
		resp, failure, err := meterOnce(req, next, format, raw, opts, target, retrier)
		if failure == nil || cfg.retry == nil {
			return resp, err
		}
		d, nerr := retrier.Next(*failure)
		if nerr != nil || !d.Retry {
			return resp, err // the engine gave up: the last answer (or error) stands
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		t := time.NewTimer(d.Delay)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

// meterOnce reserves, sends and settles one attempt of a request. failure is how a failed
// attempt failed (nil when it succeeded, or was refused, or failed in a way not worth asking
// the engine about: a stream's end, an unreadable answer).
func meterOnce(req *http.Request, next Next, format string, raw []byte, opts *RequestOptions, target Target,
	retrier *Retrier) (*http.Response, *Failure, error) {
	var res *Reservation
	var err error
	if retrier != nil {
		res, raw, err = retrier.ReserveRequest(target, format, raw, opts)
	} else {
		x, scope := target.target()
		res, raw, err = reserveRequest(x, scope, format, raw, opts, nil)
	}
	if err != nil {
		return nil, nil, err // refused (or unreadable): the request never leaves the process
	}
	// Send the body the engine returned: the output limit it reserved for is written in.
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(raw))
	req.ContentLength = int64(len(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	resp, err := next(req)
	if err != nil {
		_ = res.Release("error", err.Error())
		res.Close()
		f := classify(err, nil)
		return nil, &f, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_ = res.Release("error", resp.Status)
		res.Close()
		return resp, &Failure{Kind: FailureHTTP, Status: resp.StatusCode, Headers: resp.Header, Message: resp.Status}, nil
	}
	if isEventStream(resp) {
		stream, err := NewStream(format)
		if err != nil {
			_ = res.Release("error", err.Error())
			res.Close()
			return nil, nil, err
		}
		resp.Body = &meteredBody{body: resp.Body, lines: bufio.NewReader(resp.Body), stream: stream, res: res}
		return resp, nil, nil
	}
	payload, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(payload))
	if err != nil {
		_ = res.Release("error", err.Error())
		res.Close()
		return resp, nil, nil
	}
	if _, err := res.SettleResult(format, payload, "ok"); err != nil {
		// The provider answered but its result is unreadable: the worst case stays booked
		// until the lease ends rather than pretending the call was free.
		return resp, nil, nil
	}
	res.Close()
	return resp, nil, nil
}

// isEventStream: the response is server-sent events (a streamed answer).
func isEventStream(resp *http.Response) bool {
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return ct == "text/event-stream"
}

// meteredBody passes a streamed response through while feeding its `data:` lines to the
// usage accumulator; the call is settled when the stream ends (or is closed early, or fails).
type meteredBody struct {
	body    io.ReadCloser
	lines   *bufio.Reader
	pending []byte
	stream  *Stream
	res     *Reservation
	once    sync.Once
}

func (m *meteredBody) Read(p []byte) (int, error) {
	if len(m.pending) == 0 {
		line, err := m.lines.ReadBytes('\n')
		if len(line) > 0 {
			if data, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r\n"), []byte("data:")); ok {
				_ = m.stream.Push(bytes.TrimSpace(data))
			}
			m.pending = line
		}
		if err != nil {
			if len(m.pending) == 0 {
				m.finish(endOf(err))
				return 0, err
			}
			if !errors.Is(err, io.EOF) {
				m.finish(endOf(err))
				return 0, err
			}
		}
	}
	n := copy(p, m.pending)
	m.pending = m.pending[n:]
	return n, nil
}

// endOf is how a stream whose read returned err ended: "ok" at its end, "aborted" when the
// caller cancelled it, "error" when the transport failed (a reset connection, a timeout) —
// the statuses the Python and Node integrations record for the same ends.
func endOf(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "ok"
	case errors.Is(err, context.Canceled):
		return "aborted"
	}
	return "error"
}

// finish settles the stream once, with what it streamed (estimated when its usage never came).
func (m *meteredBody) finish(status string) {
	m.once.Do(func() {
		_, _ = m.res.SettleStream(m.stream, status)
		m.res.Close()
		m.stream.Close()
	})
}

// Close before the end: the caller stopped reading.
func (m *meteredBody) Close() error {
	m.finish("aborted")
	return m.body.Close()
}
