import Foundation
import WfloNative

/// What crossed: a percent of a scope's limit, or its soft budget.
public enum AlertKind: String, Sendable {
    /// Spend reached `Alert.percent` of the scope's hard limit.
    case threshold
    /// Spend reached the soft budget: a warning, nothing is refused.
    case softBudget = "soft_budget"
}

/// A budget alert: spend on a scope reached a threshold of its limit (by default 50, 80 and
/// 95%, each once) or its soft budget. Which alerts fire, when and in what order is the
/// engine's rule.
///
/// `scope` is "" for the execution's own budget, else a step label or a shared scope's name;
/// `executionId` and `workflow` are "" for a shared scope. `limitNanos` is the limit the
/// threshold is a part of (the soft budget itself for `.softBudget`); `summary` is one line
/// for a person ("budget 80% reached on research/planner: $0.0810 of $0.1000").
public struct Alert: Equatable, Sendable, CustomStringConvertible {
    public let executionId: String
    public let workflow: String
    public let scope: String
    public let kind: AlertKind
    public let percent: UInt32
    public let limitNanos: UInt64
    public let spentNanos: UInt64
    /// When it fired, milliseconds since the Unix epoch.
    public let atMs: UInt64
    public let summary: String

    public var limitUsd: Double { usd(limitNanos) }
    public var spentUsd: Double { usd(spentNanos) }
    public var description: String { summary }

    init?(_ a: WfloNative.Alert) {
        guard let kind = AlertKind(rawValue: a.kind) else { return nil }
        self.init(executionId: a.executionId, workflow: a.workflow, scope: a.scope, kind: kind, percent: a.percent,
                  limitNanos: a.limitNanos, spentNanos: a.spentNanos, atMs: a.atMs, summary: a.summary)
    }

    init(executionId: String, workflow: String, scope: String, kind: AlertKind, percent: UInt32, limitNanos: UInt64,
         spentNanos: UInt64, atMs: UInt64, summary: String) {
        self.executionId = executionId
        self.workflow = workflow
        self.scope = scope
        self.kind = kind
        self.percent = percent
        self.limitNanos = limitNanos
        self.spentNanos = spentNanos
        self.atMs = atMs
        self.summary = summary
    }
}

/// Stops an alert listener (`Engine.onThreshold`); cancelling twice is fine.
public final class AlertSubscription: @unchecked Sendable {
    private let lock = NSLock()
    private var remove: (() -> Void)?

    init(remove: @escaping () -> Void) {
        self.remove = remove
    }

    public func cancel() {
        lock.lock()
        let r = remove
        remove = nil
        lock.unlock()
        r?()
    }
}

/// The engine's listener over a Swift closure. `filtered`: only the alerts of the execution
/// `executionId` names reach it (none while it names none). The closure cannot throw; an
/// alert of a kind this layer does not know is dropped.
final class AlertAdapter: WfloNative.AlertListener, @unchecked Sendable {
    private let callback: @Sendable (Alert) -> Void
    private let filtered: Bool
    private let lock = NSLock()
    private var only: String?

    init(filtered: Bool, _ callback: @escaping @Sendable (Alert) -> Void) {
        self.callback = callback
        self.filtered = filtered
    }

    var executionId: String? {
        get { lock.lock(); defer { lock.unlock() }; return only }
        set { lock.lock(); only = newValue; lock.unlock() }
    }

    func onAlert(alert: WfloNative.Alert) throws {
        if filtered && alert.executionId != executionId { return }
        guard let a = Alert(alert) else { return }
        callback(a)
    }
}
