package wflo

// The host's trace, read from a context.Context with OpenTelemetry's own propagator, so an
// execution started inside a span joins that span's trace.

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
)

// traceParent is the W3C traceparent of ctx's span, "" when ctx has no valid span context.
func traceParent(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}
