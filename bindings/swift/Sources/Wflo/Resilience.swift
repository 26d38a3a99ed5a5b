import Foundation
import WfloNative

// Budget-aware retries and circuit breakers (core/src/resilience). Whether a failed call is
// retried, after how long, what a refused retry's error says, and when a breaker opens are the
// engine's rules: this file converts Swift errors into the engine's failures
// (`RetryFailure(error:)`) and runs the loop with `Task.sleep` (`withRetry`). The same shape as
// Kotlin's dev.wflo Resilience.kt and CircuitBreaker.kt.
//
// (Not compiled here: there is no Swift toolchain in this repository's CI. Names follow the
// generated WfloNative.swift.)

// MARK: - Retry policy

/// How the delay grows from one retry to the next.
public enum Backoff: String, Codable, Sendable {
    case exponential, linear, fixed
}

/// A retry policy. Every field left nil takes the engine's default (3 retries, exponential from
/// 1 s by ×2 up to 60 s, jitter ±10%, no deadline, HTTP 408, 429 and 5xx retried, timeouts and
/// connection errors retried); `Retrier.policyJson` shows them all filled in. The engine checks
/// it when a `Retrier` is made: a meaningless policy throws `.invalidArgument`.
public struct RetryPolicy: Encodable, Equatable, Sendable {
    public var backoff: Backoff?
    /// Retries after the first attempt.
    public var maxRetries: UInt32?
    public var baseDelayMs: UInt64?
    /// Caps a computed delay (a server's Retry-After may ask for longer).
    public var maxDelayMs: UInt64?
    public var multiplier: Double?
    /// Spread each delay by ± this fraction (0 to 1).
    public var jitter: Double?
    /// No retry whose wait would end later than this after the first attempt began.
    public var deadlineMs: UInt64?
    /// The HTTP statuses worth retrying; any other is never retried.
    public var retryStatuses: [UInt16]?
    public var retryTimeouts: Bool?
    public var retryConnectionErrors: Bool?
    /// Makes the jitter repeatable (tests).
    public var seed: UInt64?

    public init(backoff: Backoff? = nil, maxRetries: UInt32? = nil, baseDelayMs: UInt64? = nil,
                maxDelayMs: UInt64? = nil, multiplier: Double? = nil, jitter: Double? = nil,
                deadlineMs: UInt64? = nil, retryStatuses: [UInt16]? = nil, retryTimeouts: Bool? = nil,
                retryConnectionErrors: Bool? = nil, seed: UInt64? = nil) {
        self.backoff = backoff
        self.maxRetries = maxRetries
        self.baseDelayMs = baseDelayMs
        self.maxDelayMs = maxDelayMs
        self.multiplier = multiplier
        self.jitter = jitter
        self.deadlineMs = deadlineMs
        self.retryStatuses = retryStatuses
        self.retryTimeouts = retryTimeouts
        self.retryConnectionErrors = retryConnectionErrors
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case backoff, multiplier, jitter, seed
        case maxRetries = "max_retries", baseDelayMs = "base_delay_ms", maxDelayMs = "max_delay_ms"
        case deadlineMs = "deadline_ms", retryStatuses = "retry_statuses", retryTimeouts = "retry_timeouts"
        case retryConnectionErrors = "retry_connection_errors"
    }
}

// MARK: - Failures and decisions

/// An error that carries an HTTP answer: conform your client's error to it so `withRetry`
/// reads its status and the response's headers (Retry-After and the rate-limit resets decide
/// the delay).
public protocol HTTPStatusError: Error {
    var httpStatus: Int { get }
    var httpHeaders: [(String, String)] { get }
}

extension HTTPStatusError {
    public var httpHeaders: [(String, String)] { [] }
}

/// One failed attempt as the engine reads it.
public struct RetryFailure: Encodable, Equatable, Sendable {
    /// What kind of failure an attempt ended in; whether each is retried is the policy's.
    public enum Kind: String, Encodable, Sendable {
        /// The provider answered with an HTTP error status.
        case http
        /// No answer in time.
        case timeout
        /// The connection failed or was reset.
        case connection
        /// The caller declared this error retryable: retried while attempts last.
        case transient
        /// wflo refused the call (a budget, an open breaker, a busy resource, a denied
        /// approval: `WfloError.isRefusal`): never retried.
        case refused
        /// Anything else (a bug, a bad request): never retried.
        case other
    }

    public var kind: Kind
    public var status: UInt16?
    /// (name, value) pairs; only the retry and rate-limit headers are read.
    public var headers: [[String]]
    public var message: String

    public init(kind: Kind, status: UInt16? = nil, headers: [(String, String)] = [], message: String = "") {
        self.kind = kind
        self.status = status
        self.headers = headers.map { [$0.0, $0.1] }
        self.message = message
    }

    /// The failure `error` stands for: a wflo error the engine calls a refusal
    /// (`WfloError.isRefusal`: `.budgetExceeded`, `.circuitOpen`, `.resourceBusy`,
    /// `.approvalDenied`) is `.refused`; an `HTTPStatusError` is `.http`; `URLError.timedOut`
    /// is `.timeout`; a connection `URLError` (cannot connect, connection lost, no network,
    /// host not found) is `.connection`; an error `isRetryable` accepts is `.transient`;
    /// anything else `.other`.
    static let connectionCodes: [URLError.Code] = [
        .cannotConnectToHost, .networkConnectionLost, .notConnectedToInternet, .cannotFindHost, .dnsLookupFailed,
    ]

    public init(error: Error, isRetryable: (Error) -> Bool = { _ in false }) {
        let message = String(describing: error).split(separator: "\n").first.map(String.init) ?? ""
        switch error {
        case _ where isWfloRefusal(error):
            self.init(kind: .refused, message: (error as? WfloError)?.message ?? message)
        case let h as HTTPStatusError:
            self.init(kind: .http, status: UInt16(clamping: h.httpStatus), headers: h.httpHeaders, message: "")
        case let u as URLError where u.code == .timedOut:
            self.init(kind: .timeout, message: u.localizedDescription)
        case let u as URLError where RetryFailure.connectionCodes.contains(u.code):
            self.init(kind: .connection, message: u.localizedDescription)
        default:
            self.init(kind: isRetryable(error) ? .transient : .other, message: message)
        }
    }
}

/// What the engine decided after a failed attempt.
public enum RetryDecision: Equatable, Sendable {
    /// Wait `delayMs`, then make attempt number `attempt` (it reserves like any call).
    case retry(attempt: UInt32, delayMs: UInt64, reason: String)
    /// Give up: the last failure stands; `why` is the engine's rule for it.
    case giveUp(why: GiveUpWhy, reason: String)

    /// Why the engine gave up.
    public enum GiveUpWhy: String, Decodable, Sendable {
        /// The policy never retries this failure: it is thrown as it was.
        case notRetryable = "not_retryable"
        /// The attempts ran out: `RetryExhausted`.
        case exhausted
        /// A retry would have ended past the policy's deadline: `RetryExhausted`.
        case deadline
    }

    public var reason: String {
        switch self {
        case let .retry(_, _, reason), let .giveUp(_, reason): return reason
        }
    }

    private struct Raw: Decodable {
        let decision: String
        let attempt: UInt32?
        let delayMs: UInt64?
        let why: GiveUpWhy?
        let reason: String
    }

    init(json: String) throws {
        let raw = try JSON.decode(Raw.self, json)
        switch raw.decision {
        case "retry": self = .retry(attempt: raw.attempt ?? 0, delayMs: raw.delayMs ?? 0, reason: raw.reason)
        case "give_up":
            guard let why = raw.why else {
                throw WfloError.internalError(message: "the engine gave up without a rule")
            }
            self = .giveUp(why: why, reason: raw.reason)
        default: throw WfloError.internalError(message: "the engine returned an unknown retry decision '\(raw.decision)'")
        }
    }
}

/// The engine gave up retrying: attempts or the policy's deadline ran out. `reason` is the
/// engine's; `lastError` what the last attempt threw. A failure the policy never retries is
/// not wrapped: it is thrown as it was.
public struct RetryExhausted: Error, CustomStringConvertible {
    public let attempts: UInt32
    public let lastError: Error
    public let reason: String
    public var description: String { reason }
}

// MARK: - Retrier

/// The retry state of one logical call (`Engine.retrier(_:)`): ask `next(_:)` after each
/// failed attempt. `withRetry` runs the whole loop. Thread-safe.
public final class Retrier: @unchecked Sendable {
    let native: NativeRetrier

    init(_ native: NativeRetrier) {
        self.native = native
    }

    /// The attempt being made now (1 for the first).
    public var attempt: UInt32 { native.attempt() }

    /// The policy as the engine's JSON, every field filled in.
    public var policyJson: String { native.policyJson() }

    /// The attempt just made failed: the engine's decision.
    public func next(_ failure: RetryFailure) throws -> RetryDecision {
        try RetryDecision(json: try engineCall { try native.next(failureJson: try JSON.encode(failure)) })
    }

    /// What a refusal of the coming retry must say, once an attempt failed.
    public var refusalNote: String? { native.refusalNote() }

    /// The policy's jittered delay before retry `n` (1 = the first), in ms.
    public func delayMs(_ n: UInt32) -> UInt64 { native.delayMs(n: n) }

    /// The error for a retry the budget refused: the same `.budgetExceeded` with its message
    /// saying which attempt was not sent and what failed before it. Anything else unchanged.
    public func refused(_ error: WfloError) -> WfloError {
        guard case let .budgetExceeded(spent, budget, requested, scope, refusal, message) = error else { return error }
        return .budgetExceeded(spentUsd: spent, budgetUsd: budget, requestedUsd: requested, scope: scope,
                               refusal: refusal, message: native.refusedMessage(message: message))
    }

    /// `error` ended the attempt: the wait before the next one, or throws. A refusal is never
    /// retried: a budget refusal is re-worded by `refused`, any other thrown as it was.
    func afterFailure(_ error: Error, _ failure: RetryFailure) throws -> (RetryDecision, UInt64) {
        if failure.kind == .refused {
            if let w = error as? WfloError { throw refused(w) }
            throw error
        }
        let decision = try next(failure)
        switch decision {
        case let .retry(_, delayMs, _):
            return (decision, delayMs)
        case let .giveUp(why, reason):
            if why == .notRetryable { throw error }
            throw RetryExhausted(attempts: attempt, lastError: error, reason: reason)
        }
    }
}

/// Runs `body` until it returns, retrying its failures as `policy` says, with `Task.sleep`
/// between attempts; `body` gets the attempt number (1 for the first) and should reserve its
/// call like any other, so a retry the budget cannot cover is refused before anything is sent.
/// Throws a budget refusal as `.budgetExceeded` (after a failed attempt its message says which
/// attempt was not sent and why), any other wflo refusal (an open breaker's `.circuitOpen`, a
/// `.resourceBusy`, an `.approvalDenied`) as it was, at once, a failure the policy never
/// retries as it was, else `RetryExhausted`. Cancellation is never retried.
public func withRetry<T>(
    _ policy: RetryPolicy = RetryPolicy(),
    engine: Engine? = nil,
    isRetryable: (Error) -> Bool = { _ in false },
    onRetry: (RetryDecision, Error) -> Void = { _, _ in },
    _ body: (UInt32) async throws -> T
) async throws -> T {
    let retrier = try (engine ?? Engine.default()).retrier(policy)
    while true {
        do {
            return try await body(retrier.attempt)
        } catch let cancelled as CancellationError {
            throw cancelled
        } catch {
            let (decision, delayMs) = try retrier.afterFailure(error, RetryFailure(error: error, isRetryable: isRetryable))
            onRetry(decision, error)
            try await Task.sleep(nanoseconds: delayMs * 1_000_000)
        }
    }
}

// MARK: - Circuit breakers

/// Where a breaker is.
public enum BreakerState: String, Decodable, Sendable {
    case closed, open
    case halfOpen = "half_open"
}

/// A breaker's settings, used the first time its name is asked for; nil fields take the
/// engine's defaults (5 consecutive failures open it, 60 s of refusals, 2 trials close it).
///
/// `shared`: keeps the state in the store: every process on the store sees one breaker; give
/// them all the same settings; each check/outcome is a store transaction (so the breaker's
/// methods may then throw the store's `WfloError`s, e.g. `.storage`).
public struct BreakerConfig: Encodable, Equatable, Sendable {
    public var failureThreshold: UInt32?
    public var recoveryTimeoutMs: UInt64?
    public var successThreshold: UInt32?
    /// Also open when this fraction of the last `window` calls failed (once it holds `minCalls`).
    public var failureRate: Double?
    public var window: UInt32?
    public var minCalls: UInt32?
    /// Keep the state in the store, one breaker for every process on it (see above).
    public var shared: Bool

    public init(failureThreshold: UInt32? = nil, recoveryTimeoutMs: UInt64? = nil, successThreshold: UInt32? = nil,
                failureRate: Double? = nil, window: UInt32? = nil, minCalls: UInt32? = nil, shared: Bool = false) {
        self.failureThreshold = failureThreshold
        self.recoveryTimeoutMs = recoveryTimeoutMs
        self.successThreshold = successThreshold
        self.failureRate = failureRate
        self.window = window
        self.minCalls = minCalls
        self.shared = shared
    }

    enum CodingKeys: String, CodingKey {
        case window, shared
        case failureThreshold = "failure_threshold", recoveryTimeoutMs = "recovery_timeout_ms"
        case successThreshold = "success_threshold", failureRate = "failure_rate", minCalls = "min_calls"
    }
}

/// A change of breaker `breaker`'s state, and why ("2 consecutive failures", "recovery timeout
/// passed", "reset"). `shared`: the breaker is shared through the store (else it is one
/// process's); `holder`: the process whose call made the change (`host:pid`).
public struct BreakerTransition: Decodable, Equatable, Sendable {
    public let breaker: String
    public let shared: Bool
    public let from: BreakerState
    public let to: BreakerState
    public let atMs: UInt64
    public let reason: String
    public let holder: String
}

/// A breaker's figures (the engine's status JSON). `shared`: kept in the store
/// (`BreakerConfig.shared`); `transitions`: the latest changes of state, oldest first.
public struct BreakerStatus: Decodable, Equatable, Sendable {
    public let name: String
    public let shared: Bool
    public let state: BreakerState
    public let failureCount: UInt32
    public let successCount: UInt32
    public let totalCalls: UInt64
    public let totalFailures: UInt64
    public let rejected: UInt64
    public let openedAtMs: UInt64?
    public let retryInMs: UInt64?
    public let transitions: [BreakerTransition]
}

/// Circuit breakers as the engine's store knows them (`Engine.breakersOnStore(name:limit:)`):
/// every shared breaker's figures (whichever process made it), by name, and the latest changes
/// of state of every breaker on the store, shared or one process's, oldest first.
public struct BreakersOnStore: Decodable, Equatable, Sendable {
    public let shared: [BreakerStatus]
    public let transitions: [BreakerTransition]
}

/// The engine's breaker of one name (`Engine.breaker(_:config:)`): `check()` before reserving a
/// call, then record how it went — or let `call(_:)` do all three. Thread-safe; every
/// `CircuitBreaker` of the same name and engine is the same breaker. A shared breaker
/// (`BreakerConfig.shared`) reads and writes the store: each method may throw its `WfloError`.
public final class CircuitBreaker: @unchecked Sendable {
    let native: NativeBreaker

    init(_ native: NativeBreaker) {
        self.native = native
    }

    public var name: String { native.name() }

    /// Throws `.circuitOpen` while the breaker is open.
    public func check() throws {
        try engineCall { try native.check() }
    }

    public func recordSuccess() throws {
        try engineCall { try native.recordSuccess() }
    }

    public func recordFailure() throws {
        try engineCall { try native.recordFailure() }
    }

    /// Closes the breaker and forgets its counts (for every process on the store, when shared).
    public func reset() throws {
        try engineCall { try native.reset() }
    }

    /// Where the breaker is now (a shared breaker's, read from the store).
    public var state: BreakerState {
        get throws {
            let code = try engineCall { try native.state() }
            guard let state = BreakerState(rawValue: code) else {
                throw WfloError.internalError(message: "the engine reported an unknown breaker state '\(code)'")
            }
            return state
        }
    }

    public func status() throws -> BreakerStatus {
        try JSON.decode(BreakerStatus.self, try engineCall { try native.statusJson() })
    }

    /// Runs `body` through the breaker: `check()` first (an open breaker throws `.circuitOpen`
    /// and `body` does not run), then records a success, or a failure when `body` throws (the
    /// error is rethrown). A wflo refusal (`WfloError.isRefusal`, the engine's rule: a budget,
    /// an open breaker inside, a busy resource, a denied approval) and cancellation are not the
    /// service's failures: nothing is recorded, neither a failure nor a success. A shared
    /// breaker whose store fails while recording throws the store's `WfloError` instead.
    public func call<T>(_ body: () async throws -> T) async throws -> T {
        try check()
        let result: T
        do {
            result = try await body()
        } catch {
            if !(error is CancellationError) && !isWfloRefusal(error) {
                try recordFailure()
            }
            throw error
        }
        try recordSuccess()
        return result
    }
}

extension Engine {
    /// A retrier for one logical call whose first attempt begins now.
    public func retrier(_ policy: RetryPolicy = RetryPolicy()) throws -> Retrier {
        let json = try JSON.encode(policy)
        return Retrier(try engineCall { try native.retrier(policyJson: json) })
    }

    /// The circuit breaker called `name`: made with `config` (nil: the defaults) the first time
    /// it is asked for; later calls get the same breaker whatever they pass.
    public func breaker(_ name: String, config: BreakerConfig? = nil) throws -> CircuitBreaker {
        let json = try config.map { try JSON.encode($0) }
        return CircuitBreaker(try engineCall { try native.breaker(name: name, configJson: json) })
    }

    /// Every breaker of this engine with its figures, by name.
    public func breakers() throws -> [BreakerStatus] {
        try JSON.decode([BreakerStatus].self, try engineCall { try native.breakersJson() })
    }

    /// Circuit breakers as this engine's store knows them: every shared breaker
    /// (`BreakerConfig.shared`) with its figures, whichever process on the store made it, and
    /// the latest `limit` changes of state of every breaker on the store (shared or one
    /// process's), oldest first. `name`: only that breaker's (nil: all).
    public func breakersOnStore(name: String? = nil, limit: UInt32 = 50) throws -> BreakersOnStore {
        try JSON.decode(BreakersOnStore.self,
                        try engineCall { try native.breakersOnStoreJson(name: name, limit: limit) })
    }
}
