import Foundation
import WfloNative

/// Where a call's cost is charged: a `WfloWorkflow` (its execution) or one of its `Scope`s. A
/// reservation is checked against this scope and every scope above it, atomically.
public protocol BudgetScope {
    /// Reserves the worst case of a call BEFORE it is made; throws `.budgetExceeded` when it
    /// could overspend (then the request must not be sent).
    func reserve(_ request: CallRequest) throws -> Reservation
}

extension BudgetScope {
    /// `reserve` with the request's fields as arguments.
    public func reserve(model: String, inputTokens: UInt64 = 0, maxOutputTokens: UInt64? = nil,
                        provider: String? = nil, inputEstimated: Bool? = nil, cacheWrite: CacheWrite? = nil,
                        stream: Bool = false, clampMaxTokens: Bool = false) throws -> Reservation {
        try reserve(CallRequest(model: model, provider: provider, inputTokens: inputTokens,
                                inputEstimated: inputEstimated, maxOutputTokens: maxOutputTokens,
                                cacheWrite: cacheWrite, stream: stream, clampMaxTokens: clampMaxTokens))
    }
}

/// Budget held for one call: settle it from the provider's usage after the call, or release it
/// if the call failed. Dropped unsettled, it is released and recorded as aborted, so the
/// budget never leaks. A second settle or release is `.conflict`.
public final class Reservation: @unchecked Sendable {
    let native: NativeReservation

    init(_ native: NativeReservation) {
        self.native = native
    }

    /// The worst case held, nano-USD.
    public var amountNanos: UInt64 { native.amountNanos() }

    /// The max_tokens to send (lower than asked under `clampMaxTokens`).
    public var maxOutputTokens: UInt64 { native.maxOutputTokens() }

    public var isEnded: Bool { native.isEnded() }

    /// Books the provider's usage.
    @discardableResult
    public func settle(_ usage: Usage) throws -> Settled {
        try engineCall { try native.settle(usage: usage) }
    }

    /// Books the usage in a provider's response body or usage JSON; unreadable usage throws
    /// `.invalidArgument` and leaves the reservation held for a retry or a release.
    @discardableResult
    public func settleJson(format: String, json: String) throws -> Settled {
        try engineCall { try native.settleJson(format: format, json: json) }
    }

    /// Books a finished or cut stream ("ok", "error", "aborted"); without the provider's
    /// usage the output is estimated from the streamed text and flagged.
    @discardableResult
    public func settleStream(_ stream: UsageStream, status: String = "ok") throws -> Settled {
        try engineCall { try native.settleStream(stream: stream.native, status: status) }
    }

    /// Gives the budget back: the call failed ("error") or was abandoned ("aborted").
    public func release(status: String = "error", reason: String? = nil) throws {
        try engineCall { try native.release(status: status, reason: reason) }
    }
}

/// Accumulates a streamed response's events ("openai_chat", "openai_responses", "anthropic",
/// "gemini"), so the call can be settled from the usage they carry. (Not `Stream`: Foundation
/// has one.)
public final class UsageStream: @unchecked Sendable {
    let native: NativeStream

    public init(format: String) throws {
        native = try engineCall { try NativeStream(format: format) }
    }

    /// Feeds one server-sent event's data (JSON text; "[DONE]" is ignored).
    public func push(_ event: String) throws {
        try engineCall { try native.push(data: event) }
    }

    /// {"usage": … or null, "complete": bool, "text": "…"} so far.
    public func stateJson() -> String { native.stateJson() }
}

/// A step (or agent) of an execution: its calls are recorded under `label` and checked against
/// its own budget, if it has one, as well as the execution's.
public final class Scope: BudgetScope, @unchecked Sendable {
    public let label: String
    let native: NativeScope

    init(label: String, native: NativeScope) {
        self.label = label
        self.native = native
    }

    public func reserve(_ request: CallRequest) throws -> Reservation {
        Reservation(try engineCall { try native.reserve(request: request) })
    }

    /// Records a call made without a reservation.
    @discardableResult
    public func recordCall(model: String, usage: Usage) throws -> Settled {
        try engineCall { try native.recordCall(model: model, usage: usage) }
    }

    /// A sub-step, created on first use (labels are one namespace per execution).
    public func child(_ label: String, budgetUsd: Double? = nil) throws -> Scope {
        let nanos = try budgetUsd.map { try nanosFromUsd($0, "budgetUsd") }
        return Scope(label: label, native: try engineCall { try native.child(label: label, budgetNanos: nanos) })
    }
}
