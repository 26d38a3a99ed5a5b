import Foundation
import WfloNative

/// A budget refusal's exact figures in nano-USD (1 USD = 10^9).
public struct BudgetRefusal: Equatable, Sendable {
    public let scope: String
    public let limitNanos: UInt64
    public let spentNanos: UInt64
    public let reservedNanos: UInt64
    public let requestedNanos: UInt64
}

/// Every wflo error, one case per stable code shared by all of the engine's faces.
public enum WfloError: Error, Equatable, CustomStringConvertible {
    case invalidArgument(message: String)
    /// The model is not in the price table; `suggestions` lists up to three close names.
    case unknownModel(model: String, suggestions: [String], message: String)
    /// A call was refused BEFORE it was made: it could have passed the limit of `scope`. The
    /// request must not be sent. Dollars for display; `refusal` has the exact nano-USD figures.
    case budgetExceeded(spentUsd: Double, budgetUsd: Double, requestedUsd: Double, scope: String,
                        refusal: BudgetRefusal, message: String)
    case notFound(message: String)
    case conflict(message: String)
    case storage(message: String)
    case closed(message: String)
    case internalError(message: String)
    /// A circuit breaker (`CircuitBreaker`) is open: the call was refused before anything was
    /// reserved or sent. `name` is the breaker's, `failures` those that opened it, `retryInMs`
    /// how long it keeps refusing before it lets a trial call through.
    case circuitOpen(name: String, failures: UInt32, retryInMs: UInt64, message: String)
    /// A named resource stayed busy until the acquisition's timeout.
    case resourceBusy(resource: String, waitedMs: UInt64, holders: [String], message: String)
    /// An approval gate was denied (`by`, with a `note`), or not answered in time (`timedOut`).
    case approvalDenied(id: String, gate: String, timedOut: Bool, by: String?, note: String?, message: String)
    /// A call passed its execution's approval threshold (`approvalAboveUsd`) on an engine that
    /// returns pending approvals instead of waiting on the reserving thread
    /// (`engine.native.setApprovalWait(returnPending: true)`): nothing was reserved or sent.
    /// Wait for approval `id` (`WfloWorkflow.waitForApproval`) and reserve again: the same
    /// `gate` finds the same approval, now decided. `what` is what the approval allows.
    case approvalPending(id: String, gate: String, what: String, message: String)
    /// The execution `execution` made as many LLM calls as its `maxCalls` allows (the original
    /// SDK's `max_iterations`): this call was refused before anything was reserved or sent. A
    /// call refused for another reason does not count; a resumed execution counts its calls.
    case callLimit(execution: String, maxCalls: UInt64, message: String)

    /// The stable code: "BUDGET_EXCEEDED", "UNKNOWN_MODEL", "INVALID_ARGUMENT", …
    public var code: String {
        switch self {
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .unknownModel: return "UNKNOWN_MODEL"
        case .budgetExceeded: return "BUDGET_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .conflict: return "CONFLICT"
        case .storage: return "STORAGE"
        case .closed: return "CLOSED"
        case .internalError: return "INTERNAL"
        case .circuitOpen: return "CIRCUIT_OPEN"
        case .resourceBusy: return "RESOURCE_BUSY"
        case .approvalDenied: return "APPROVAL_DENIED"
        case .approvalPending: return "APPROVAL_PENDING"
        case .callLimit: return "CALL_LIMIT"
        }
    }

    public var message: String {
        switch self {
        case let .invalidArgument(message), let .notFound(message), let .conflict(message),
             let .storage(message), let .closed(message), let .internalError(message):
            return message
        case let .unknownModel(_, _, message):
            return message
        case let .budgetExceeded(_, _, _, _, _, message):
            return message
        case let .circuitOpen(_, _, _, message), let .resourceBusy(_, _, _, message):
            return message
        case let .approvalDenied(_, _, _, _, _, message):
            return message
        case let .approvalPending(_, _, _, message):
            return message
        case let .callLimit(_, _, message):
            return message
        }
    }

    public var description: String { "\(code): \(message)" }

    /// Whether this is one of wflo's own refusals (a budget, an open breaker, a busy resource,
    /// a denied or pending approval, the call limit) rather than a failure of what was called: a `CircuitBreaker` does
    /// not count it and a retry never retries it. The engine's rule (`ErrorCode::is_refusal`),
    /// asked by `code`.
    public var isRefusal: Bool { WfloNative.isRefusal(code: code) }

    init(_ e: WfloNative.WfloError) {
        switch e {
        case let .InvalidArgument(message):
            self = .invalidArgument(message: message)
        case let .UnknownModel(message, model, suggestions):
            self = .unknownModel(model: model, suggestions: suggestions, message: message)
        case let .BudgetExceeded(message, scope, limit, spent, reserved, requested):
            let r = BudgetRefusal(scope: scope, limitNanos: limit, spentNanos: spent,
                                  reservedNanos: reserved, requestedNanos: requested)
            self = .budgetExceeded(spentUsd: usd(spent), budgetUsd: usd(limit), requestedUsd: usd(requested),
                                   scope: scope, refusal: r, message: message)
        case let .NotFound(message):
            self = .notFound(message: message)
        case let .Conflict(message):
            self = .conflict(message: message)
        case let .Storage(message):
            self = .storage(message: message)
        case let .Closed(message):
            self = .closed(message: message)
        case let .Internal(message):
            self = .internalError(message: message)
        case let .CircuitOpen(message, name, failures, retryInMs):
            self = .circuitOpen(name: name, failures: failures, retryInMs: retryInMs, message: message)
        case let .ResourceBusy(message, resource, waitedMs, holders):
            self = .resourceBusy(resource: resource, waitedMs: waitedMs, holders: holders, message: message)
        case let .ApprovalDenied(message, id, gate, timedOut, by, note):
            self = .approvalDenied(id: id, gate: gate, timedOut: timedOut, by: by, note: note, message: message)
        case let .ApprovalPending(message, id, gate, what):
            self = .approvalPending(id: id, gate: gate, what: what, message: message)
        case let .CallLimit(message, execution, maxCalls):
            self = .callLimit(execution: execution, maxCalls: maxCalls, message: message)
        }
    }
}

func usd(_ nanos: UInt64) -> Double { Double(nanos) / 1e9 }

func invalid(_ message: String) -> WfloError { .invalidArgument(message: "invalid argument: \(message)") }

/// Calls the engine, throwing its errors as `WfloError`.
func engineCall<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as WfloNative.WfloError {
        throw WfloError(e)
    }
}

/// `engineCall` for the engine's async methods.
func engineCallAsync<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as WfloNative.WfloError {
        throw WfloError(e)
    }
}

/// Whether `error` itself is a wflo error the engine calls a refusal (`WfloError.isRefusal`):
/// this layer's `WfloError` or the generated layer's.
func isWfloRefusal(_ error: Error) -> Bool {
    if let w = error as? WfloError { return w.isRefusal }
    if let n = error as? WfloNative.WfloError { return WfloError(n).isRefusal }
    return false
}

/// The wflo error codes along `error`'s chain of causes, outermost first: what the engine's
/// finish rule reads (`WfloWorkflow.end(raised:)`). The chain is Foundation's: each error's
/// `NSUnderlyingErrorKey`. Empty for an error that is not wflo's and wraps none.
func wfloCodes(_ error: Error) -> [String] {
    var codes: [String] = []
    var next: Error? = error
    var depth = 0
    while let e = next, depth < 64 {
        if let w = e as? WfloError {
            codes.append(w.code)
        } else if let n = e as? WfloNative.WfloError {
            codes.append(WfloError(n).code)
        }
        next = (e as NSError).userInfo[NSUnderlyingErrorKey] as? Error
        depth += 1
    }
    return codes
}
