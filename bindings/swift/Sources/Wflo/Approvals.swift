import Foundation
import WfloNative

// Approval gates (core/src/resilience/approval.rs): a workflow stops at a gate until a person
// approves it (`wflo approve ID`, the `wflo serve` page, or `Engine.approve` from any process on
// the same store). The same gate asked again by the same execution — a restarted workflow —
// finds the same approval; what a timeout means and how a wait polls are the engine's rules.
// The same shape as Kotlin's dev.wflo Approvals.kt.
//
// (Not compiled here: there is no Swift toolchain in this repository's CI. Names follow the
// generated WfloNative.swift.)

/// Where an approval is.
public enum ApprovalStatus: String, Decodable, Sendable {
    case pending, approved, denied
    /// Nobody decided in time; the gate applied its `OnTimeout` rule.
    case expired
}

/// What an unanswered approval means when its timeout passes.
public enum OnTimeout: String, Codable, Sendable {
    /// The gate is denied (`.approvalDenied` with `timedOut`). The default.
    case deny
    /// The gate is approved.
    case approve
}

/// An approval as the store holds it: its id ("appr-" + 12 hex), the execution and gate it
/// belongs to, what happens once approved, why it needs approval, the worst case of the spend
/// behind it (nano-USD, exact), who asked, what a timeout means, its status, and once decided
/// who decided ("timeout" when nobody did in time) and their note. Times are Unix ms.
public struct Approval: Decodable, Equatable, Sendable {
    public let id: String
    public let executionId: String
    public let gate: String
    public let what: String
    public let why: String
    public let worstCaseNanos: UInt64?
    public let requestedBy: String
    public let onTimeout: OnTimeout
    public let status: ApprovalStatus
    public let note: String?
    public let decidedBy: String?
    public let createdAtMs: UInt64
    public let expiresAtMs: UInt64?
    public let decidedAtMs: UInt64?

    /// The worst case in dollars, for display.
    public var worstCaseUsd: Double? { worstCaseNanos.map(usd) }
}

/// The engine's approval request JSON (nil fields: the engine's defaults).
struct ApprovalRequest: Encodable {
    let gate: String
    let why: String
    let what: String?
    let worstCaseNanos: UInt64?
    let requestedBy: String?
    let timeoutMs: UInt64?
    let onTimeout: OnTimeout

    enum CodingKeys: String, CodingKey {
        case gate, why, what
        case worstCaseNanos = "worst_case_nanos", requestedBy = "requested_by", timeoutMs = "timeout_ms"
        case onTimeout = "on_timeout"
    }
}

extension WfloWorkflow {
    /// Stops at approval gate `gate` until a person decides (see `requestApproval` for the
    /// arguments): returns the approved `Approval`, or throws `.approvalDenied` when it is denied
    /// (with who denied it and their note) or nobody decided within `timeoutMs` under
    /// `onTimeout: .deny` (`timedOut` true). The wait polls the store off the caller's thread.
    @discardableResult
    public func requireApproval(_ gate: String, why: String = "", what: String? = nil, worstCaseUsd: Decimal? = nil,
                                timeoutMs: UInt64? = nil, onTimeout: OnTimeout = .deny,
                                requestedBy: String? = nil) async throws -> Approval {
        let asked = try requestApproval(gate, why: why, what: what, worstCaseUsd: worstCaseUsd, timeoutMs: timeoutMs,
                                        onTimeout: onTimeout, requestedBy: requestedBy)
        return try await waitForApproval(asked.id)
    }

    /// Records a pending approval for `gate` of the running execution (starting one if none is),
    /// or finds the one it already has for that gate, decided or not; does not wait. `what`: what
    /// happens once approved (nil: "run GATE"); `worstCaseUsd`: the worst case of the spend behind
    /// it, exact, through the engine's money parsing; `timeoutMs`: how long a decision may take
    /// from the first ask (nil: the engine's one hour); `requestedBy` nil: this process.
    @discardableResult
    public func requestApproval(_ gate: String, why: String = "", what: String? = nil, worstCaseUsd: Decimal? = nil,
                                timeoutMs: UInt64? = nil, onTimeout: OnTimeout = .deny,
                                requestedBy: String? = nil) throws -> Approval {
        let request = ApprovalRequest(
            gate: gate, why: why, what: what,
            worstCaseNanos: try worstCaseUsd.map { try nanosFromUsd($0, "worstCaseUsd") },
            requestedBy: requestedBy, timeoutMs: timeoutMs, onTimeout: onTimeout)
        let json = try JSON.encode(request)
        try startSync()
        let exec = try current()
        return try JSON.decode(Approval.self, try engineCall { try exec.requestApproval(requestJson: json) })
    }

    /// Waits for approval `id` of this execution, at most `waitMs` (nil: until the approval's own
    /// timeout), off the caller's thread. Returns the approved `Approval`, or the still-pending
    /// one when `waitMs` ran out first; throws `.approvalDenied` when it was denied or timed out
    /// under `.deny`.
    public func waitForApproval(_ id: String, waitMs: UInt64? = nil) async throws -> Approval {
        let exec = try current()
        let json = try await engineCallAsync { try await exec.waitForApproval(id: id, waitMs: waitMs) }
        return try JSON.decode(Approval.self, json)
    }

    /// `waitForApproval` blocking the caller's thread (for synchronous code).
    public func waitForApprovalSync(_ id: String, waitMs: UInt64? = nil) throws -> Approval {
        let exec = try current()
        return try JSON.decode(Approval.self, try engineCall { try exec.waitForApprovalBlocking(id: id, waitMs: waitMs) })
    }
}

extension Engine {
    /// The approval `id` as the store holds it now; `.notFound` when there is none.
    public func approval(_ id: String) throws -> Approval {
        try JSON.decode(Approval.self, try engineCall { try native.approvalJson(id: id) })
    }

    /// The approvals in the store (every process's), newest first; only the undecided with
    /// `pendingOnly`.
    public func approvals(pendingOnly: Bool = false) throws -> [Approval] {
        try JSON.decode([Approval].self, try engineCall { try native.approvalsJson(pendingOnly: pendingOnly) })
    }

    /// Approves the pending approval `id` (the workflow waiting at its gate goes on), as `by`
    /// (nil: `USER@host`) with an optional note. Throws `.conflict` when it was already decided,
    /// `.notFound` when there is no such approval.
    @discardableResult
    public func approve(_ id: String, note: String? = nil, by: String? = nil) throws -> Approval {
        try JSON.decode(Approval.self, try engineCall { try native.decideApproval(id: id, approve: true, by: by, note: note) })
    }

    /// Denies the pending approval `id`: the workflow waiting at its gate gets `.approvalDenied`
    /// carrying `by` and `note`. Throws as `approve` does.
    @discardableResult
    public func deny(_ id: String, note: String? = nil, by: String? = nil) throws -> Approval {
        try JSON.decode(Approval.self, try engineCall { try native.decideApproval(id: id, approve: false, by: by, note: note) })
    }
}
