import Foundation
import WfloNative

// Named resources (core/src/resilience/contention.rs): a lock or semaphore kept in the engine's
// store, so every process on that store sees the same slots. Who may take a slot, how long a
// wait lasts, what counts as contention and when a hold's lease ends are the engine's rules:
// this file converts settings and JSON, and waits with the engine's off-thread acquisition
// (`ResourceLock.acquire`) so a task does not block a thread of the cooperative pool. The same
// shape as Kotlin's dev.wflo Contention.kt.
//
// (Not compiled here: there is no Swift toolchain in this repository's CI. Names follow the
// generated WfloNative.swift.)

/// A resource's settings, used the first time its name is asked for in a process. Every field
/// left nil takes the engine's default (one holder — a lock —, 30 s timeout, 5 s contention
/// threshold, the engine's lease); `ResourceLock.config` shows them filled in. The engine checks
/// them: meaningless settings throw `.invalidArgument`.
public struct LockConfig: Codable, Equatable, Sendable {
    /// How many may hold it at once (1: a lock).
    public var maxConcurrent: UInt32?
    /// How long an acquisition waits before it fails with `.resourceBusy`.
    public var timeoutMs: UInt64?
    /// A longer wait is counted (and logged) as contention.
    public var contentionThresholdMs: UInt64?
    /// How long a hold lasts unless renewed (`Permit.renew()`); a holder that dies frees its
    /// slot when its lease ends.
    public var leaseMs: UInt64?

    public init(maxConcurrent: UInt32? = nil, timeoutMs: UInt64? = nil, contentionThresholdMs: UInt64? = nil,
                leaseMs: UInt64? = nil) {
        self.maxConcurrent = maxConcurrent
        self.timeoutMs = timeoutMs
        self.contentionThresholdMs = contentionThresholdMs
        self.leaseMs = leaseMs
    }

    enum CodingKeys: String, CodingKey {
        case maxConcurrent = "max_concurrent", timeoutMs = "timeout_ms"
        case contentionThresholdMs = "contention_threshold_ms", leaseMs = "lease_ms"
    }
}

/// One hold of a resource: the process that holds it (`holder`, `host:pid`), the workflow it was
/// taken for, when (Unix ms) and until when its lease runs.
public struct ResourceHolder: Decodable, Equatable, Sendable {
    public let holdId: String
    public let holder: String
    public let workflowId: String
    public let acquiredAtMs: UInt64
    public let leaseUntilMs: UInt64
}

/// A resource's figures since it was made or last reset: acquisitions granted, contentions
/// (acquisitions and timeouts that waited past the threshold), timeouts (acquisitions refused
/// with `.resourceBusy`), the summed and longest wait of the granted ones, and the current
/// holders, oldest first.
public struct ResourceStats: Decodable, Equatable, Sendable {
    public let resource: String
    public let acquisitions: UInt64
    public let contentions: UInt64
    public let timeouts: UInt64
    public let totalWaitMs: UInt64
    public let maxWaitMs: UInt64
    public let holders: [ResourceHolder]
}

/// The engine's resource of one name (`Engine.resource(_:config:)`): a lock or a semaphore
/// shared by every process on the engine's store. Take a slot with `acquire` (or `withLock`) and
/// give it back with `Permit.release()`. Thread-safe.
public final class ResourceLock: @unchecked Sendable {
    let native: NativeResource

    init(_ native: NativeResource) {
        self.native = native
    }

    public var name: String { native.name() }

    /// The settings, every field filled in.
    public func config() throws -> LockConfig {
        try JSON.decode(LockConfig.self, native.configJson(), keys: .useDefaultKeys)
    }

    /// Takes a slot for `workflowId`, waiting at most `timeoutMs` (nil: the configured timeout;
    /// 0: do not wait) off the caller's thread. Throws `.resourceBusy` (with the holders at that
    /// moment) when no slot freed in time.
    public func acquire(_ workflowId: String, timeoutMs: UInt64? = nil) async throws -> Permit {
        Permit(try await engineCallAsync { try await native.acquireAsync(workflowId: workflowId, timeoutMs: timeoutMs) })
    }

    /// `acquire` blocking the caller's thread (for synchronous code).
    public func acquireSync(_ workflowId: String, timeoutMs: UInt64? = nil) throws -> Permit {
        Permit(try engineCall { try native.acquire(workflowId: workflowId, timeoutMs: timeoutMs) })
    }

    /// Runs `body` holding a slot taken for `workflowId` (see `acquire`) and gives it back when
    /// `body` returns or throws.
    public func withLock<T>(_ workflowId: String, timeoutMs: UInt64? = nil,
                            _ body: (Permit) async throws -> T) async throws -> T {
        let permit = try await acquire(workflowId, timeoutMs: timeoutMs)
        do {
            let result = try await body(permit)
            try permit.release()
            return result
        } catch {
            try? permit.release()
            throw error
        }
    }

    /// The figures and current holders (read from the store, so every process's).
    public func stats() throws -> ResourceStats {
        try JSON.decode(ResourceStats.self, try engineCall { try native.statsJson() })
    }

    /// Zeroes the figures; holds stay.
    public func resetStats() throws {
        try engineCall { try native.resetStats() }
    }
}

/// A slot of a resource (`ResourceLock.acquire`), held until `release()` (or until this object
/// goes, or its lease ends without `renew()`). Thread-safe; releasing twice is fine.
public final class Permit: @unchecked Sendable {
    let native: NativePermit

    init(_ native: NativePermit) {
        self.native = native
    }

    /// How long the acquisition waited, ms.
    public var waitedMs: UInt64 { native.waitedMs() }

    /// Gives the slot back now.
    public func release() throws {
        try engineCall { try native.release() }
    }

    /// Extends the lease from now; false when it had already ended (the slot may be someone
    /// else's: stop using the resource).
    public func renew() throws -> Bool {
        try engineCall { try native.renew() }
    }
}

extension Engine {
    /// The resource `name` (1 to 200 bytes): a lock or semaphore kept in this engine's store, so
    /// every process on the store shares its slots. Made with `config` (nil: the engine's
    /// defaults) the first time it is asked for in this process.
    public func resource(_ name: String, config: LockConfig? = nil) throws -> ResourceLock {
        let json = try config.map { try JSON.encode($0) }
        return ResourceLock(try engineCall { try native.resource(name: name, configJson: json) })
    }
}
