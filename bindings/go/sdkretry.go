package wflo

import "net/http"

// The official SDKs (openai-go, anthropic-sdk-go) retry an attempt whose middleware returned
// an error without a response as a connection error: with their default two retries, a call
// wflo refused would be refused three times, seconds apart, and counted as three refusals. A
// refusal is wflo's answer, not a failure of the connection — Retry never retries one — so
// the middleware answers it with a response that says so in the header both SDKs read before
// retrying (x-should-retry: false), and the SDK returns the refusal as it is.

// refusalHeader names the response that stands for a refusal: nothing was sent, nothing came.
const refusalHeader = "X-Wflo-Refused"

// unretried is what the middleware returns to the SDK for an attempt: the attempt as it is,
// unless wflo refused it (IsRefusal), in which case the refusal comes with a stand-in
// response that stops the SDK's retry loop. Transport cannot do this (an http.RoundTripper
// returns a response or an error, never both), nor needs to: http.Client does not retry.
func unretried(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if resp != nil || !IsRefusal(err) {
		return resp, err
	}
	h := http.Header{}
	h.Set("X-Should-Retry", "false")
	h.Set(refusalHeader, "true")
	return &http.Response{Status: "wflo refused the request before sending it", Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Header: h, Body: http.NoBody, Request: req}, err
}
