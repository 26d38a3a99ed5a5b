import Foundation
import XCTest
@testable import Wflo

/// Execution limits (the original SDK's `max_iterations` and `per_agent_budgets`): the start
/// options `maxCalls` and `agentBudgets` reach the engine, whose refusals come back typed —
/// `.callLimit` after the last call, `.budgetExceeded` on `agent:<name>` for the agent over its
/// share while another goes on. (The same cases as Kotlin's LimitsTest.)
final class LimitsTests: XCTestCase {
    func testTheCallAfterMaxCallsIsRefusedWithCallLimitAndNothingReserved() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "capped", budgetUsd: 1, engine: engine, maxCalls: 2)
        for _ in 0..<2 {
            try wf.reserve(model: "gpt-4o-mini", inputTokens: 10, maxOutputTokens: 50).settle(Usage(input: 10, output: 5))
        }
        var refused: WfloError?
        XCTAssertThrowsError(try wf.reserve(model: "gpt-4o-mini", inputTokens: 10, maxOutputTokens: 50)) {
            refused = $0 as? WfloError
        }
        guard case let .callLimit(execution, maxCalls, _)? = refused else {
            return XCTFail("expected callLimit, got \(String(describing: refused))")
        }
        XCTAssertEqual(refused?.code, "CALL_LIMIT")
        XCTAssertEqual(refused?.isRefusal, true)
        XCTAssertEqual(maxCalls, 2)
        XCTAssertEqual(execution, wf.executionId)
        XCTAssertEqual(try wf.breakdown().reservedNanos, 0)
        XCTAssertEqual(try wf.breakdown().refusedCalls, 1)
    }

    func testTheAgentOverItsShareIsRefusedWhileAnotherGoesOn() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        // gpt-4o-mini's output is $0.60 per million tokens: 1,000 tokens' worst case is $0.0006,
        // so the researcher's $0.001 holds one such call and not two.
        let wf = try WfloWorkflow(name: "agents", budget: 1, engine: engine,
                                  agentBudgets: ["researcher": Decimal(string: "0.001")!])
        try wf.startSync()
        let exec = try wf.current()
        let body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1000}"
        let researcher = "{\"agent\":\"researcher\"}"
        let first = try engineCall { try exec.reserveRequest(format: "openai_chat", body: body, optionsJson: researcher) }
        XCTAssertThrowsError(try engineCall {
            try exec.reserveRequest(format: "openai_chat", body: body, optionsJson: researcher)
        }) { error in
            guard case let .budgetExceeded(_, _, _, scope, refusal, _)? = error as? WfloError else {
                return XCTFail("expected budgetExceeded, got \(error)")
            }
            XCTAssertEqual(scope, "agent:researcher")
            XCTAssertEqual(refusal.limitNanos, 1_000_000)
        }
        // The writer has no share of its own: only the execution's budget limits it.
        for _ in 0..<2 {
            let writer = try engineCall {
                try exec.reserveRequest(format: "openai_chat", body: body, optionsJson: "{\"agent\":\"writer\"}")
            }
            try writer.reservation.release(status: "aborted", reason: nil)
        }
        try first.reservation.release(status: "aborted", reason: nil)
        XCTAssertEqual(try wf.breakdown().reservedNanos, 0)
    }
}
