import Foundation
import XCTest
@testable import Wflo

/// Budget alerts through `onThreshold`, the trace id, the metrics text and the engine's events
/// routed to a handler.
final class TelemetryTests: XCTestCase {
    /// `calls` gpt-4o calls of 100 input and 200 output tokens ($0.00225 each).
    private func spend(_ scope: BudgetScope, _ calls: Int) throws {
        for _ in 0..<calls {
            _ = try scope.reserve(model: "gpt-4o", inputTokens: 100, maxOutputTokens: 200)
                .settle(Usage(input: 100, output: 200))
        }
    }

    private final class Seen: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
    }

    func testOnThresholdHearsItsOwnExecutionOnceEachInOrder() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let seen = Seen()
        let wf = try WfloWorkflow(name: "alerts", budget: Decimal(string: "0.01")!, engine: engine,
                                  softBudget: Decimal(string: "0.004")!)
        wf.onThreshold { seen.add("\($0.kind.rawValue)/\($0.percent)/\($0.spentNanos)") }
        let other = try WfloWorkflow(name: "other", budgetUsd: 0.01, engine: engine)
        try spend(other, 4) // not wf's
        try spend(wf, 4) // 22.5%, 45%, 67.5%, 90% of $0.01
        XCTAssertEqual(seen.all, ["soft_budget/100/4500000", "threshold/50/6750000", "threshold/80/9000000"])
    }

    func testTraceIdAndMetrics() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "traced", budgetUsd: 0.005, engine: engine,
                                  traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        XCTAssertNil(wf.traceId)
        try spend(wf, 2)
        XCTAssertEqual(wf.traceId, "4bf92f3577b34da6a3ce929d0e0e4736")
        XCTAssertThrowsError(try spend(wf, 1))
        let lines = engine.metricsText().split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains(#"wflo_calls_total{model="gpt-4o",provider="openai",status="ok"} 2"#))
        XCTAssertTrue(lines.contains { $0.hasPrefix(#"wflo_refusals_total{model="gpt-4o""#) })
    }

    func testEventsReachTheHandlerAtTheLevelRouted() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close(); _ = try? logEvents(nil) }
        let seen = Seen()
        XCTAssertEqual(try logEvents("info") { level, line in seen.add("\(level) \(line)") }, LogLevel.info)
        let wf = try WfloWorkflow(name: "logged", budgetUsd: 0.003, engine: engine)
        XCTAssertThrowsError(try spend(wf, 2))
        XCTAssertTrue(seen.all.contains { $0.hasPrefix("info refused: call refused before sending") }, "\(seen.all)")
        XCTAssertFalse(seen.all.contains { $0.contains("reserved:") })
        XCTAssertNil(try logEvents(nil))
        XCTAssertThrowsError(try logEvents("loud")) { error in
            XCTAssertEqual((error as? WfloError)?.code, "INVALID_ARGUMENT")
        }
    }
}
