import Foundation
import WfloNative

/// A named, budgeted workflow. Each `execute` runs one execution (`executionId`, "exec-" + 12
/// hex) in which every LLM call is reserved BEFORE it is made (refused with
/// `WfloError.budgetExceeded` when it could overspend) and settled from the provider's usage
/// after. Checkpoints and rollbacks belong to the execution. Thread-safe.
///
/// Budget alerts (`onThreshold`) fire when spend on an execution or one of its steps reaches a
/// percent of its limit — `alertThresholds`, default 50, 80 and 95; each once; empty: none —
/// or the soft budget (a warning: nothing is refused). The execution joins the trace of
/// `traceParent` (a W3C `traceparent` value: the host's current span), else starts its own;
/// `traceId` says which.
///
/// `approvalAboveUsd` (dollars, like the budget; `approvalAbove` exact): a call whose worst
/// case passes it meets an approval gate (`call #1 over $0.50`) before it reserves, and goes
/// on once a person approves it (`Engine.approve`, `wflo approve ID`, `wflo serve`, from any
/// process on the store); a denied or timed-out gate throws `.approvalDenied` and nothing is
/// reserved. `reserve` waits for the decision on its thread (the engine's default): call it
/// from a thread of your own, not from a Swift concurrency task. The threshold is kept with
/// the execution: a resumed one gates alike.
///
/// `maxCalls`: the most LLM calls an execution may make (the original SDK's `max_iterations`);
/// the next throws `.callLimit` before anything is reserved or sent, and a call refused for
/// another reason does not count. `agentBudgetsUsd` (`agentBudgets` exact): each agent's own
/// budget, by the name its framework gives the agent — a call made for an agent (request
/// option `agent`) reserves on the agent's scope `agent:<name>`, limited by its share and by
/// the execution's budget. Both are kept with the execution: a resumed one enforces them.
public final class WfloWorkflow: BudgetScope, @unchecked Sendable {
    public let name: String
    /// The budget in nano-USD (exact), or nil for no limit of its own.
    public let budgetNanos: UInt64?
    public var budgetUsd: Double? { budgetNanos.map(usd) }
    public let engine: Engine
    private let sharedScopes: [String]
    private let alertThresholds: [UInt32]?
    private let softBudgetNanos: UInt64?
    private let traceParent: String?
    private let approvalAboveNanos: UInt64?
    private let maxCalls: UInt64?
    private let agentBudgets: [String: UInt64]?

    private let lock = NSLock()
    private var execution: NativeExecution?
    private var running = false
    private var steps: [String: Scope] = [:]
    // onThreshold's listeners on the engine, each following the current execution.
    private var alertListeners: [(AlertAdapter, AlertSubscription)] = []

    /// `budgetUsd` in dollars (nil: no limit of its own); `sharedScopes`: budgets shared with
    /// other executions and processes, drawn from as well; `engine`: default `Engine.default()`;
    /// `alertThresholds`, `softBudgetUsd`, `traceParent`, `approvalAboveUsd`, `maxCalls` and
    /// `agentBudgetsUsd`: see the type's description.
    public convenience init(name: String = "workflow", budgetUsd: Double? = nil, engine: Engine? = nil,
                            sharedScopes: [String] = [], alertThresholds: [UInt32]? = nil,
                            softBudgetUsd: Double? = nil, traceParent: String? = nil,
                            approvalAboveUsd: Double? = nil, maxCalls: UInt64? = nil,
                            agentBudgetsUsd: [String: Double]? = nil) throws {
        try self.init(name: name, budgetNanos: try budgetUsd.map { try nanosFromUsd($0, "budgetUsd") },
                      engine: engine, sharedScopes: sharedScopes, alertThresholds: alertThresholds,
                      softBudgetNanos: try softBudgetUsd.map { try nanosFromUsd($0, "softBudgetUsd") },
                      traceParent: traceParent,
                      approvalAboveNanos: try approvalAboveUsd.map { try nanosFromUsd($0, "approvalAboveUsd") },
                      maxCalls: maxCalls, agentBudgets: try agentNanos(agentBudgetsUsd, "agentBudgetsUsd"))
    }

    /// The same with exact amounts (`Decimal(string: "0.01")` is exactly 10,000,000 nano-USD).
    public convenience init(name: String = "workflow", budget: Decimal, engine: Engine? = nil,
                            sharedScopes: [String] = [], alertThresholds: [UInt32]? = nil,
                            softBudget: Decimal? = nil, traceParent: String? = nil,
                            approvalAbove: Decimal? = nil, maxCalls: UInt64? = nil,
                            agentBudgets: [String: Decimal]? = nil) throws {
        try self.init(name: name, budgetNanos: try nanosFromUsd(budget, "budget"), engine: engine,
                      sharedScopes: sharedScopes, alertThresholds: alertThresholds,
                      softBudgetNanos: try softBudget.map { try nanosFromUsd($0, "softBudget") },
                      traceParent: traceParent,
                      approvalAboveNanos: try approvalAbove.map { try nanosFromUsd($0, "approvalAbove") },
                      maxCalls: maxCalls, agentBudgets: try agentNanos(agentBudgets, "agentBudgets"))
    }

    init(name: String, budgetNanos: UInt64?, engine: Engine?, sharedScopes: [String], alertThresholds: [UInt32]?,
         softBudgetNanos: UInt64?, traceParent: String?, approvalAboveNanos: UInt64? = nil,
         maxCalls: UInt64? = nil, agentBudgets: [String: UInt64]? = nil) throws {
        guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw invalid("name must be a non-empty string")
        }
        self.name = name
        self.budgetNanos = budgetNanos
        self.engine = try engine ?? Engine.default()
        self.sharedScopes = sharedScopes
        self.alertThresholds = alertThresholds
        self.softBudgetNanos = softBudgetNanos
        self.traceParent = traceParent
        self.approvalAboveNanos = approvalAboveNanos
        self.maxCalls = maxCalls
        self.agentBudgets = agentBudgets
    }

    deinit {
        alertListeners.forEach { $0.1.cancel() }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// The current (or last) execution's id; nil before the first start.
    public var executionId: String? { locked { execution }?.id() }

    /// The W3C trace id (32 lower-case hex) the current (or last) execution belongs to: the
    /// host's trace when it joined one (`traceParent`), else its own; nil before the first start.
    public var traceId: String? { locked { execution }?.traceId() }

    /// Calls `callback` with each budget alert of this workflow's executions, in the order they
    /// fire (register it before the calls it should hear). It runs on the thread that settled
    /// the call. Removed when the workflow goes. Returns this workflow.
    @discardableResult
    public func onThreshold(_ callback: @escaping @Sendable (Alert) -> Void) -> WfloWorkflow {
        let adapter = AlertAdapter(filtered: true, callback)
        locked {
            adapter.executionId = execution?.id()
            alertListeners.append((adapter, engine.add(adapter)))
        }
        return self
    }

    private var startOptions: StartOptions {
        StartOptions(id: nil, sharedScopes: sharedScopes, traceparent: traceParent, alertThresholds: alertThresholds,
                     softBudgetNanos: softBudgetNanos, approvalAboveNanos: approvalAboveNanos,
                     maxCalls: maxCalls, agentBudgets: agentBudgets)
    }

    // -- the execution ------------------------------------------------------------------------

    /// Starts an execution unless one is running (`execute` does this itself).
    public func start() async throws {
        if locked({ running }) { return }
        let started = try await engineCallAsync {
            try await engine.native.startExecutionAsync(name: name, budgetNanos: budgetNanos, options: startOptions)
        }
        adopt(started)
    }

    /// `start` for synchronous code (and `reserve`, which starts an execution if none runs).
    public func startSync() throws {
        if locked({ running }) { return }
        let started = try engineCall {
            try engine.native.startExecution(name: name, budgetNanos: budgetNanos, options: startOptions)
        }
        adopt(started)
    }

    private func adopt(_ started: NativeExecution) {
        locked {
            // Two concurrent starts: the first one wins, the other execution stays unused.
            if running { return }
            execution = started
            running = true
            steps = [:]
            let id = started.id()
            alertListeners.forEach { $0.0.executionId = id }
        }
    }

    func current() throws -> NativeExecution {
        guard let e = locked({ execution }) else {
            throw WfloError.closed(message: "the workflow has not started: call execute() or start() first")
        }
        return e
    }

    /// Ends the execution with an explicit status (`end(raised:)` lets the engine choose it from
    /// how the run ended; `execute` does that itself).
    public func finish(_ status: ExecutionStatus = .completed) async throws {
        let ending: NativeExecution? = locked {
            guard running else { return nil }
            running = false
            return execution
        }
        guard let exec = ending else { return }
        try await engineCallAsync { try await exec.finishAsync(status: status.rawValue) }
    }

    /// Ends the execution the way its body ended, by the engine's one rule: `raised` nil (it
    /// returned) is "completed"; else a budget refusal anywhere along the error's causes is
    /// "budget_exceeded", any other error "failed". Returns the status the engine chose ("completed",
    /// "failed", "budget_exceeded"), or nil when no execution was running.
    @discardableResult
    public func end(raised: Error?) throws -> String? {
        let ending: NativeExecution? = locked {
            guard running else { return nil }
            running = false
            return execution
        }
        guard let exec = ending else { return nil }
        let codes: [String]? = raised.map { wfloCodes($0) }
        return try engineCall { try exec.end(raised: codes) }
    }

    /// Runs `body` as one execution and returns its result. Ends the execution as
    /// `end(raised:)` says: "completed", or "failed" / "budget_exceeded" when `body` throws (the
    /// error is rethrown).
    public func execute<T>(_ body: (WfloWorkflow) async throws -> T) async throws -> T {
        try await start()
        let result: T
        do {
            result = try await body(self)
        } catch {
            _ = try? end(raised: error) // the body's error matters more than a failed status write
            throw error
        }
        try end(raised: nil)
        return result
    }

    // -- steps and calls ----------------------------------------------------------------------

    /// The step scope `label` of the running execution, created on first use (with its own budget if given).
    public func scope(_ label: String, budgetUsd: Double? = nil) throws -> Scope {
        try scope(label, nanos: try budgetUsd.map { try nanosFromUsd($0, "budgetUsd") })
    }

    /// The same with an exact budget.
    public func scope(_ label: String, budget: Decimal) throws -> Scope {
        try scope(label, nanos: try nanosFromUsd(budget, "budget"))
    }

    private func scope(_ label: String, nanos: UInt64?) throws -> Scope {
        guard !label.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw invalid("a step label must be a non-empty string")
        }
        try startSync()
        let key = label + "\u{0}" + (nanos.map { String($0) } ?? "-")
        if let s = locked({ steps[key] }) { return s }
        let exec = try current()
        let s = Scope(label: label, native: try engineCall { try exec.scope(label: label, budgetNanos: nanos) })
        return locked {
            if let kept = steps[key] { return kept }
            steps[key] = s
            return s
        }
    }

    /// Reserves on the execution itself (not a step); starts an execution if none is running.
    public func reserve(_ request: CallRequest) throws -> Reservation {
        try startSync()
        let exec = try current()
        return Reservation(try engineCall { try exec.reserve(request: request) })
    }

    /// Records a call made without a reservation, from its usage.
    @discardableResult
    public func recordCall(model: String, usage: Usage) throws -> Settled {
        try startSync()
        let exec = try current()
        return try engineCall { try exec.recordCall(model: model, usage: usage) }
    }

    /// Records a call made without a reservation, from its response body or usage JSON.
    @discardableResult
    public func recordCall(model: String, response: String, format: String = "auto") throws -> Settled {
        try startSync()
        let exec = try current()
        return try engineCall { try exec.recordCallJson(model: model, format: format, json: response) }
    }

    // -- checkpoints and the bill -------------------------------------------------------------

    /// Saves `state` as checkpoint `name`; committed to the store when this returns.
    @discardableResult
    public func checkpoint<State: Encodable>(_ name: String, state: State) async throws -> CheckpointInfo {
        guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw invalid("checkpoint name must be a non-empty string")
        }
        let text = try JSON.encode(state)
        if locked({ execution }) == nil { try await start() }
        let exec = try current()
        let info = try await engineCallAsync { try await exec.checkpointAsync(name: name, stateJson: text) }
        return try JSON.decode(CheckpointInfo.self, info)
    }

    /// The state saved in the latest live checkpoint `name`, as JSON text. Later checkpoints
    /// become history; money spent since stays spent.
    public func rollbackToCheckpoint(_ name: String) async throws -> String {
        let exec = try current()
        return try await engineCallAsync { try await exec.rollbackToCheckpointAsync(name: name) }
    }

    /// `rollbackToCheckpoint`, decoded as `State`.
    public func rollbackToCheckpoint<State: Decodable>(_ name: String, as type: State.Type) async throws -> State {
        let text = try await rollbackToCheckpoint(name)
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw invalid("checkpoint '\(name)' does not decode as \(type): \(error)")
        }
    }

    /// Saves `data` — bytes in your own format (MessagePack, protobuf…), named by `contentType`
    /// such as "application/msgpack" — as checkpoint `name`; they are stored as they are and come
    /// back byte for byte from `rollbackToCheckpointAny`. A content type is 1 to 255 printable
    /// ASCII characters without spaces, else `.invalidArgument` (an empty one too); nil (the
    /// default) is none given: the engine names the bytes "application/octet-stream".
    /// (`rollbackToCheckpoint`, for JSON states only, refuses a binary one with
    /// `.invalidArgument` before changing anything.)
    @discardableResult
    public func checkpointBinary(_ name: String, contentType: String? = nil, data: Data) async throws -> CheckpointInfo {
        guard !name.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw invalid("checkpoint name must be a non-empty string")
        }
        if locked({ execution }) == nil { try await start() }
        let exec = try current()
        let info = try await engineCallAsync {
            try await exec.checkpointBinaryAsync(name: name, contentType: contentType, bytes: data)
        }
        return try JSON.decode(CheckpointInfo.self, info)
    }

    /// `rollbackToCheckpoint` for a state of either kind: JSON text, or bytes with their content type.
    public func rollbackToCheckpointAny(_ name: String) async throws -> CheckpointState {
        let exec = try current()
        return try await engineCallAsync { try await exec.rollbackToCheckpointAnyAsync(name: name) }
    }

    /// The latest live checkpoint's state of either kind (where a resumed workflow continues),
    /// or nil when there is none.
    public func latestCheckpointAny() throws -> CheckpointState? {
        let exec = try current()
        return try engineCall { try exec.latestCheckpointAny() }
    }

    /// The state of this execution's checkpoint `id` (`CheckpointInfo.id`; superseded ones
    /// included), of either kind; `.notFound` when the execution has no such checkpoint.
    public func checkpointStateAny(_ id: UInt64) throws -> CheckpointState {
        let exec = try current()
        return try engineCall { try exec.checkpointStateAny(id: id) }
    }

    /// The checkpoints saved after sequence `afterSequence` (0: all; `CheckpointInfo.sequence`),
    /// in order, superseded ones included, and the execution's number of rollbacks so far. A
    /// reader keeping its own index of the checkpoints reads only what is new, and reads them
    /// all again when `rollbacks` grew (a rollback changes which earlier checkpoints are live).
    /// The count is read first: a rollback made in between shows on the next call, never missed.
    public func checkpointsSince(_ afterSequence: UInt64) throws -> CheckpointsSince {
        let exec = try current()
        let since = try engineCall { try exec.checkpointsSince(afterSequence: afterSequence) }
        return CheckpointsSince(checkpoints: try JSON.decode([CheckpointInfo].self, since.checkpointsJson),
                                rollbacks: since.rollbacks)
    }

    /// `checkpointsSince` and `checkpointStateAny` in one call, crossing into the engine once:
    /// what a reader keeping its own index (a LangGraph saver) needs for one load. `.notFound`
    /// when the execution has no checkpoint `checkpointId`.
    public func checkpointsSinceWithState(_ afterSequence: UInt64, checkpointId: UInt64) throws -> CheckpointsSinceWithState {
        let exec = try current()
        let read = try engineCall {
            try exec.checkpointsSinceWithState(afterSequence: afterSequence, checkpointId: checkpointId)
        }
        return CheckpointsSinceWithState(checkpoints: try JSON.decode([CheckpointInfo].self, read.checkpointsJson),
                                         rollbacks: read.rollbacks, state: read.state)
    }

    /// Where the money went: total, budget, remaining, reserved, calls, by model, by step.
    public func breakdown() throws -> Breakdown {
        let exec = try current()
        return try JSON.decode(Breakdown.self, try engineCall { try exec.breakdownJson() })
    }

    /// The breakdown as the engine's JSON (every field, including those `Breakdown` does not name).
    public func breakdownJson() throws -> String {
        let exec = try current()
        return try engineCall { try exec.breakdownJson() }
    }
}

/// Each agent's budget in nano-USD (nil: none), `what` naming the option in an error.
private func agentNanos(_ budgets: [String: Double]?, _ what: String) throws -> [String: UInt64]? {
    guard let budgets = budgets else { return nil }
    var out: [String: UInt64] = [:]
    for (agent, amount) in budgets { out[agent] = try nanosFromUsd(amount, "\(what)[\"\(agent)\"]") }
    return out
}

/// `agentNanos` for exact amounts.
private func agentNanos(_ budgets: [String: Decimal]?, _ what: String) throws -> [String: UInt64]? {
    guard let budgets = budgets else { return nil }
    var out: [String: UInt64] = [:]
    for (agent, amount) in budgets { out[agent] = try nanosFromUsd(amount, "\(what)[\"\(agent)\"]") }
    return out
}
