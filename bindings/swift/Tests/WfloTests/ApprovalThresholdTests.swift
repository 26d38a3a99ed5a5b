import Foundation
import XCTest
@testable import Wflo

/// A workflow started with an approval threshold (`approvalAbove`): a call whose worst case
/// passes it meets the engine's numbered gate before it reserves. The gate and its wait are
/// the engine's; these tests check that the Swift start option reaches it, the typed errors,
/// and `Engine.approval(_:)`. (The same cases as Kotlin's ApprovalThresholdTest.)
final class ApprovalThresholdTests: XCTestCase {
    // gpt-4o, 100 in, 4,000 out: about $0.04 worst case; gpt-4o-mini, 10 in, 20 out: far below $0.001.
    private func reserveCostly(_ wf: WfloWorkflow) throws -> Reservation {
        try wf.reserve(model: "gpt-4o", inputTokens: 100, maxOutputTokens: 4000)
    }

    func testACostlyCallWaitsForApprovalFromAnotherThreadAndACheapOneMeetsNoGate() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "gated", budget: 1, engine: engine, approvalAbove: Decimal(string: "0.001")!)
        try wf.startSync()

        let approver = Thread {
            for _ in 0..<1000 {
                if let pending = try? engine.approvals(pendingOnly: true).first {
                    _ = try? engine.approve(pending.id, note: "fine", by: "ana")
                    return
                }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        approver.start()
        let call = try reserveCostly(wf) // blocks this thread until the approver decides
        try call.settle(Usage(input: 100, output: 50))
        let decided = try engine.approvals()
        XCTAssertEqual(decided.map(\.gate), ["call #1 over $0.001"])
        XCTAssertEqual(try engine.approval(decided[0].id).status, .approved)
        XCTAssertEqual(try engine.approval(decided[0].id).decidedBy, "ana")

        try wf.reserve(model: "gpt-4o-mini", inputTokens: 10, maxOutputTokens: 20).settle(Usage(input: 10, output: 2))
        XCTAssertEqual(try engine.approvals().count, 1, "a cheap call asks for no approval")
        XCTAssertThrowsError(try engine.approval("appr-000000000000")) { error in
            XCTAssertEqual((error as? WfloError)?.code, "NOT_FOUND")
        }
    }

    func testAnEngineThatReturnsPendingApprovalsThrowsApprovalPendingAndADeniedGateReservesNothing() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        engine.native.setApprovalWait(returnPending: true)
        let wf = try WfloWorkflow(name: "gated", budgetUsd: 1, engine: engine, approvalAboveUsd: 0.001)

        var first: WfloError?
        XCTAssertThrowsError(try reserveCostly(wf)) { first = $0 as? WfloError }
        guard case let .approvalPending(id, gate, what, _)? = first else {
            return XCTFail("expected approvalPending, got \(String(describing: first))")
        }
        XCTAssertEqual(first?.code, "APPROVAL_PENDING")
        XCTAssertEqual(first?.isRefusal, true)
        XCTAssertEqual(gate, "call #1 over $0.001")
        XCTAssertTrue(what.hasPrefix("a gpt-4o call"), what)
        XCTAssertEqual(try engine.approval(id).status, .pending)
        XCTAssertEqual(try wf.breakdown().reservedNanos, 0)

        try engine.deny(id, note: "too big", by: "bo")
        XCTAssertThrowsError(try reserveCostly(wf)) { error in
            guard case let .approvalDenied(deniedId, _, timedOut, by, note, _)? = error as? WfloError else {
                return XCTFail("expected approvalDenied, got \(error)")
            }
            XCTAssertEqual([deniedId, by, note], [id, "bo", "too big"])
            XCTAssertFalse(timedOut)
        }
        XCTAssertEqual(try wf.breakdown().reservedNanos, 0)
        XCTAssertEqual(try wf.breakdown().calls, 0)
    }
}
