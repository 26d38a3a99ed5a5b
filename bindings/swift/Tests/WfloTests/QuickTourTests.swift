import Foundation
import XCTest
@testable import Wflo

/// examples/swift/QuickTour.swift (the README's Swift snippet), run and checked, and the typed
/// errors of bad input.
final class QuickTourTests: XCTestCase {
    func testTheQuickTourRunsAndItsFiguresAddUp() async throws {
        let (b, settled) = try await quickTour()
        // gpt-4o-mini: 21 prompt tokens at $0.15/M + 180 output tokens at $0.60/M.
        XCTAssertEqual(settled.costNanos, 111_150)
        XCTAssertEqual(settled.usage, Usage(input: 21, output: 180))
        XCTAssertEqual(b.calls, 1)
        XCTAssertEqual(b.refusedCalls, 1)
        XCTAssertEqual(b.reservedNanos, 0)
        XCTAssertEqual(b.totalNanos, settled.costNanos)
        XCTAssertEqual(b.budgetNanos, 10_000_000)
        XCTAssertEqual(b.status, "completed")
        XCTAssertEqual(b.byStep.map(\.step).sorted(), ["search", "write"])
    }

    func testBadInputThrowsTypedErrors() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }

        XCTAssertThrowsError(try WfloWorkflow(name: "w", budgetUsd: -1, engine: engine)) { error in
            XCTAssertEqual((error as? WfloError)?.code, "INVALID_ARGUMENT")
        }
        XCTAssertThrowsError(try parseUsage("{not json", format: "openai_chat")) { error in
            XCTAssertEqual((error as? WfloError)?.code, "INVALID_ARGUMENT")
        }
        XCTAssertThrowsError(try engine.cost(model: "gpt-4o-mini-typo", usage: Usage(input: 1))) { error in
            guard case let .unknownModel(model, suggestions, _)? = error as? WfloError else {
                return XCTFail("expected unknownModel, got \(error)")
            }
            XCTAssertEqual(model, "gpt-4o-mini-typo")
            XCTAssertFalse(suggestions.isEmpty)
        }

        let wf = try WfloWorkflow(name: "w", budget: Decimal(string: "0.000001")!, engine: engine)
        XCTAssertEqual(wf.budgetNanos, 1_000)
        XCTAssertThrowsError(try wf.reserve(model: "gpt-4o", inputTokens: 1000, maxOutputTokens: 1000)) { error in
            guard case let .budgetExceeded(spentUsd, budgetUsd, requestedUsd, _, refusal, _)? = error as? WfloError else {
                return XCTFail("expected budgetExceeded, got \(error)")
            }
            XCTAssertEqual(spentUsd, 0)
            XCTAssertEqual(budgetUsd, 0.000001, accuracy: 1e-12)
            XCTAssertEqual(requestedUsd, 0.0125, accuracy: 1e-12) // 1,000 × $2.50/M + 1,000 × $10/M
            XCTAssertEqual(refusal.requestedNanos, 12_500_000)
        }

        let roomy = try WfloWorkflow(name: "roomy", budgetUsd: 1, engine: engine)
        let call = try roomy.scope("s").reserve(model: "gpt-4o-mini", inputTokens: 1, maxOutputTokens: 1)
        XCTAssertThrowsError(try call.settleJson(format: "openai_chat", json: "[1, 2"))
        XCTAssertFalse(call.isEnded, "unreadable usage leaves the reservation held")
        try call.release()
        XCTAssertThrowsError(try call.release()) { error in
            XCTAssertEqual((error as? WfloError)?.code, "CONFLICT")
        }
    }
}
