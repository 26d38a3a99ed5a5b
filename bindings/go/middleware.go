package wflo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Next sends a request on (openai-go's option.MiddlewareNext has this type).
type Next = func(*http.Request) (*http.Response, error)

// Middleware meters every OpenAI Chat Completions, OpenAI Responses and Anthropic Messages
// request an HTTP client sends, with the execution the request's context carries
// (WithExecution / WithScope): the prompt is counted and the worst case reserved BEFORE the
// request leaves the process — a call that could overspend returns a *BudgetExceededError
// and is never sent — and the response's usage is settled after (streams when they end;
// include_usage is requested for OpenAI streams). Requests without an execution in their
// context pass through untouched.
//
// A request that fails (an HTTP error status, a transport error, the client's timeout)
// releases its reservation and is recorded as an "error" call that cost nothing; a stream
// that fails mid-way is recorded as an "error" charged for what it streamed (estimated), one
// the caller closes early as "aborted". openai-go calls the middleware once per attempt, so
// each of its retries is reserved, sent and recorded on its own.
//
// It has the shape of openai-go's option.Middleware:
//
//	client := openai.NewClient(option.WithMiddleware(wflo.Middleware()))
func Middleware() func(*http.Request, Next) (*http.Response, error) {
	return meter
}

// Transport wraps an http.RoundTripper with the same metering, for any HTTP client.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) { return meter(req, base.RoundTrip) })
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// wire describes how one API's requests read.
type wire struct {
	format   string // the usage format name libwflo parses
	provider string
}

func wireOf(req *http.Request) (wire, bool) {
	p := strings.TrimRight(req.URL.Path, "/")
	switch {
	case req.Method != http.MethodPost:
		return wire{}, false
	case strings.HasSuffix(p, "/chat/completions"):
		return wire{"openai_chat", "openai"}, true
	case strings.HasSuffix(p, "/responses"):
		return wire{"openai_responses", "openai"}, true
	case strings.HasSuffix(p, "/messages"):
		return wire{"anthropic", "anthropic"}, true
	}
	return wire{}, false
}

// promptMessages is what the request counts as its prompt, as chat messages.
func promptMessages(w wire, body map[string]json.RawMessage) []json.RawMessage {
	var msgs []json.RawMessage
	system := func(key string) {
		if raw, ok := body[key]; ok {
			m, _ := json.Marshal(map[string]json.RawMessage{"role": json.RawMessage(`"system"`), "content": raw})
			msgs = append(msgs, m)
		}
	}
	switch w.format {
	case "openai_chat":
		_ = json.Unmarshal(body["messages"], &msgs)
	case "anthropic":
		system("system")
		var rest []json.RawMessage
		_ = json.Unmarshal(body["messages"], &rest)
		msgs = append(msgs, rest...)
	case "openai_responses":
		system("instructions")
		var text string
		if json.Unmarshal(body["input"], &text) == nil {
			m, _ := json.Marshal(map[string]string{"role": "user", "content": text})
			msgs = append(msgs, m)
		} else {
			var items []json.RawMessage
			_ = json.Unmarshal(body["input"], &items)
			msgs = append(msgs, items...)
		}
	}
	return msgs
}

func maxTokensKey(w wire, body map[string]json.RawMessage) string {
	switch w.format {
	case "openai_responses":
		return "max_output_tokens"
	case "openai_chat":
		if _, ok := body["max_completion_tokens"]; ok {
			return "max_completion_tokens"
		}
	}
	return "max_tokens"
}

func meter(req *http.Request, next Next) (*http.Response, error) {
	x, scope, ok := ExecutionFrom(req.Context())
	w, metered := wireOf(req)
	if !ok || !metered || req.Body == nil {
		return next(req)
	}
	raw, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, invalid("invalid argument: the request body is not a JSON object: %v", err)
	}
	var model string
	_ = json.Unmarshal(body["model"], &model)
	var streaming bool
	_ = json.Unmarshal(body["stream"], &streaming)
	key := maxTokensKey(w, body)
	var maxTokens uint64
	_ = json.Unmarshal(body[key], &maxTokens)
	if streaming && w.format == "openai_chat" {
		// Without include_usage an OpenAI stream never says what it used.
		var opts map[string]any
		_ = json.Unmarshal(body["stream_options"], &opts)
		if opts == nil {
			opts = map[string]any{}
		}
		opts["include_usage"] = true
		body["stream_options"], _ = json.Marshal(opts)
	}
	count, err := x.engine.CountChatTokens(model, promptMessages(w, body))
	if err != nil {
		return nil, err
	}
	request := CallRequest{Model: model, Provider: w.provider, InputTokens: count.Tokens, InputEstimated: &count.Estimated,
		MaxOutputTokens: maxTokens, Stream: streaming}
	var res *Reservation
	if scope != nil {
		res, err = scope.Reserve(request)
	} else {
		res, err = x.Reserve(request)
	}
	if err != nil {
		return nil, err // refused: the request never leaves the process
	}
	if maxTokens == 0 || res.MaxOutputTokens() < maxTokens {
		// Send the cap the reservation covers, so the provider cannot produce more.
		body[key], _ = json.Marshal(res.MaxOutputTokens())
	}
	raw, _ = json.Marshal(body)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	req.ContentLength = int64(len(raw))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(raw)), nil }
	resp, err := next(req)
	if err != nil {
		_ = res.Release("error", err.Error())
		res.Close()
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_ = res.Release("error", resp.Status)
		res.Close()
		return resp, nil
	}
	if streaming {
		stream, err := NewStream(w.format)
		if err != nil {
			_ = res.Release("error", err.Error())
			res.Close()
			return nil, err
		}
		resp.Body = &meteredBody{body: resp.Body, lines: bufio.NewReader(resp.Body), stream: stream, res: res}
		return resp, nil
	}
	payload, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(payload))
	if err != nil {
		_ = res.Release("error", err.Error())
		res.Close()
		return resp, nil
	}
	if _, err := res.SettleJSON(w.format, payload); err != nil {
		// The provider answered but its usage is unreadable: the worst case stays booked
		// until the lease ends rather than pretending the call was free.
		return resp, nil
	}
	res.Close()
	return resp, nil
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
