import Foundation
import WfloNative

/// The engine: prices, token counts, budgets and a store. Thread-safe; one per process is the
/// usual shape (`Engine.default()`), tests and services open their own.
public final class Engine: @unchecked Sendable {
    /// The generated object, for what this layer does not wrap.
    public let native: NativeEngine

    init(native: NativeEngine) {
        self.native = native
    }

    /// Opens the store `url` names: a SQLite path, "sqlite://…", ":memory:", "memory://",
    /// "postgres://…"; nil: WFLO_DATABASE_URL, DATABASE_URL, else the default SQLite file.
    public static func open(_ url: String? = nil) throws -> Engine {
        _ = WfloLog.fromEnvironment // WFLO_LOG: the engine's events on standard error (silent when unset)
        return Engine(native: try engineCall { try NativeEngine.open(url: url) })
    }

    private final class Shared: @unchecked Sendable {
        let lock = NSLock()
        var engine: Engine?
    }

    private static let shared = Shared()

    /// The process-wide engine, opened from the environment on first use.
    public static func `default`() throws -> Engine {
        shared.lock.lock()
        defer { shared.lock.unlock() }
        if let e = shared.engine { return e }
        let e = try open()
        shared.engine = e
        return e
    }

    /// Registers or overrides prices: {"models": [{"name", "input", "output", …}]}, pico-USD per token.
    public func setPrices(_ json: String) throws {
        try engineCall { try self.native.setPrices(json: json) }
    }

    /// Loads a price file over the table: wflo's schema (`{"models": [...]}`, pico-USD per
    /// token) or LiteLLM's `model_prices_and_context_window.json` as published. The whole file
    /// is checked first: a bad entry throws `WfloError.invalidArgument` naming the line and the
    /// reason, and nothing is applied. (Every engine also loads the file `WFLO_PRICES` names
    /// when it opens.)
    @discardableResult
    public func loadPrices(path: String) throws -> PriceChanges {
        // Its keys are single words; the fields' values keep the engine's keys as they are.
        try JSON.decode(PriceChanges.self, try engineCall { try self.native.loadPrices(path: path) },
                        keys: .useDefaultKeys)
    }

    /// `loadPrices(path:)` for a file URL.
    @discardableResult
    public func loadPrices(url: URL) throws -> PriceChanges {
        guard url.isFileURL else { throw invalid("a price file must be a file URL, got \(url)") }
        return try loadPrices(path: url.path)
    }

    /// Where this engine's prices come from: the built-in table and the files loaded over it.
    public func priceTable() throws -> PriceTable {
        try JSON.decode(PriceTable.self, try engineCall { try self.native.priceTableJson() })
    }

    /// The cost of `usage` on `model` in nano-USD, rounded up once.
    public func cost(model: String, usage: Usage) throws -> UInt64 {
        try engineCall { try self.native.cost(model: model, usage: usage) }
    }

    /// The table entry `model` resolves to ("openai/gpt-4o-2024-08-06" → "gpt-4o-2024-08-06").
    public func resolvedModel(_ model: String) throws -> String {
        struct Resolution: Decodable { let resolved: String }
        return try JSON.decode(Resolution.self, try engineCall { try self.native.priceJson(model: model) }).resolved
    }

    /// How `model` resolves and every price it has, as the engine's JSON.
    public func priceJson(_ model: String) throws -> String {
        try engineCall { try self.native.priceJson(model: model) }
    }

    /// Counts `text` as `model` is billed for it (exact for OpenAI models, as tiktoken).
    public func countTokens(model: String, text: String) -> TokenCount {
        native.countTokens(model: model, text: text)
    }

    /// Counts chat messages ({"role", "content", "name"?}) with the per-message overhead.
    public func countChatTokens(model: String, messages: [[String: String]]) throws -> TokenCount {
        try countChatTokens(model: model, messagesJson: try JSON.encode(messages))
    }

    /// Counts a chat request's messages given as a JSON array.
    public func countChatTokens(model: String, messagesJson: String) throws -> TokenCount {
        try engineCall { try self.native.countChatTokens(model: model, messagesJson: messagesJson) }
    }

    /// A budget every process using this store draws from; `period` "none", "day" or "month".
    /// `allowances`: false books every call in the store (strict fairness between processes)
    /// instead of serving calls from local allowances; nil keeps the scope's setting.
    public func defineSharedScope(_ name: String, limitUsd: Double?, period: String = "none",
                                  allowances: Bool? = nil) throws {
        let nanos = try limitUsd.map { try nanosFromUsd($0, "limitUsd") }
        try engineCall {
            try self.native.defineSharedScope(name: name, limitNanos: nanos, period: period, allowances: allowances)
        }
    }

    /// This engine's metrics in the Prometheus text exposition format: cost, calls, refusals,
    /// token and duration histograms, budgets remaining, alerts. Labels are bounded (model,
    /// provider, scope, status), never an execution id. Serve it on your own `/metrics`.
    public func metricsText() -> String {
        native.metricsText()
    }

    /// Calls `callback` with each budget alert of this engine's executions, in the order they
    /// fire: a threshold of a limit reached (by default 50, 80 and 95%), a soft budget reached
    /// (see `WfloWorkflow`'s `alertThresholds` and `softBudgetUsd`). It runs on the thread that
    /// settled the call. Cancel the subscription to stop it. (A workflow's own alerts:
    /// `WfloWorkflow.onThreshold`.)
    @discardableResult
    public func onThreshold(_ callback: @escaping @Sendable (Alert) -> Void) -> AlertSubscription {
        add(AlertAdapter(filtered: false, callback))
    }

    func add(_ adapter: AlertAdapter) -> AlertSubscription {
        let id = native.addAlertListener(listener: adapter)
        let native = self.native
        return AlertSubscription { _ = native.removeAlertListener(id: id) }
    }

    /// Writes what is buffered and closes the store; closing twice is fine.
    public func close() throws {
        try engineCall { try self.native.close() }
    }
}

/// wflo usage from a provider's response body or usage JSON (`format` "auto", "openai_chat",
/// "openai_responses", "anthropic", "gemini", "langchain", "ai_sdk" or "wflo").
public func parseUsage(_ json: String, format: String = "auto") throws -> Usage {
    try engineCall { try WfloNative.parseUsage(format: format, json: json) }
}

/// Nano-USD for an amount of dollars; negative, NaN or absurd amounts are refused.
func nanosFromUsd(_ amount: Double, _ what: String) throws -> UInt64 {
    guard amount.isFinite, amount >= 0 else { throw invalid("\(what) must be a non-negative number, got \(amount)") }
    return try engineCall { try usdToNanos(usd: amount) }
}

/// Nano-USD for an exact decimal amount of dollars ("0.01" stays 10,000,000).
func nanosFromUsd(_ amount: Decimal, _ what: String) throws -> UInt64 {
    guard amount >= 0 else { throw invalid("\(what) must not be negative, got \(amount)") }
    return try engineCall { try parseUsd(text: "\(amount)") }
}
