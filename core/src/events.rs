//! Structured events: what the engine did, for the host's logging (issue 15, item 1).
//!
//! Emitted with `tracing` under the target `wflo` and a `event` field naming the kind
//! (`reserved`, `refused`, `clamped`, `settled`, `overrun`, `checkpoint`, `rollback`). Fields
//! are ids, labels, model names, token counts and nano-USD amounts — never a prompt, a reply,
//! an API key or a header value: nothing here is given any of those. With no subscriber
//! installed an event costs a level check. Levels: refusals, clamps and overruns at INFO (a
//! person should know), reservations and settlements at DEBUG (one per call).

use crate::money::Nanos;

/// A reservation booked before a call was sent.
pub(crate) fn reserved(execution: &str, scope: &str, model: &str, amount: Nanos, max_output: u64) {
    tracing::debug!(target: "wflo", event = "reserved", execution, scope, model,
        reserved_nanos = amount, max_output_tokens = max_output, "reserved before sending");
}

/// A call refused before it was sent: the scope that refused and the amounts.
pub(crate) fn refused(execution: &str, scope: &str, model: &str, requested: Nanos, reason: &str) {
    tracing::info!(target: "wflo", event = "refused", execution, scope, model,
        requested_nanos = requested, reason, "call refused before sending");
}

/// The output limit lowered so the call fits the budget.
pub(crate) fn clamped(execution: &str, scope: &str, model: &str, from: u64, to: u64) {
    tracing::info!(target: "wflo", event = "clamped", execution, scope, model,
        max_output_tokens = to, requested_max_output_tokens = from, "output limit lowered to fit the budget");
}

/// A call settled at its cost (estimated or from the provider's usage).
pub(crate) fn settled(
    execution: &str,
    scope: &str,
    model: &str,
    cost: Nanos,
    reserved: Nanos,
    estimated: bool,
    status: &str,
) {
    tracing::debug!(target: "wflo", event = "settled", execution, scope, model,
        cost_nanos = cost, reserved_nanos = reserved, estimated, status, "call settled");
}

/// A call cost more than its reservation (its limited scopes now refuse).
pub(crate) fn overrun(execution: &str, scope: &str, model: &str, overrun: Nanos) {
    tracing::info!(target: "wflo", event = "overrun", execution, scope, model,
        overrun_nanos = overrun, "call cost more than it reserved");
}

/// A checkpoint saved.
pub(crate) fn checkpoint(execution: &str, name: &str, sequence: u64, state_bytes: usize) {
    tracing::info!(target: "wflo", event = "checkpoint", execution, name, sequence, state_bytes, "checkpoint saved");
}

/// A rollback to a checkpoint.
pub(crate) fn rollback(execution: &str, name: &str) {
    tracing::info!(target: "wflo", event = "rollback", execution, name, "rolled back");
}
