import Foundation
import XCTest
@testable import Wflo

/// Which wflo errors are refusals is the engine's rule (`ErrorCode::is_refusal`, asked through
/// `WfloError.isRefusal`): these tests check that a breaker's `call` records none of the six
/// (a budget, an open breaker, a busy resource, a denied or pending approval, the call limit), that an error that is not
/// wflo's counts, and that `withRetry` gives up at once on a busy resource or a denied approval.
final class RefusalTests: XCTestCase {
    /// Every wait 1 ms, no jitter.
    private let quick = RetryPolicy(backoff: .fixed, maxRetries: 3, baseDelayMs: 1, maxDelayMs: 1, jitter: 0)

    private struct ServiceDown: Error {}

    /// The six refusals, built as the layer builds them from the engine's errors.
    private let refusals: [WfloError] = [
        .budgetExceeded(spentUsd: 0, budgetUsd: 0, requestedUsd: 0, scope: "s",
                        refusal: BudgetRefusal(scope: "s", limitNanos: 1, spentNanos: 1, reservedNanos: 0,
                                               requestedNanos: 1),
                        message: "refused"),
        .circuitOpen(name: "openai", failures: 5, retryInMs: 100, message: "open"),
        .resourceBusy(resource: "db", waitedMs: 0, holders: ["wf-a"], message: "busy"),
        .approvalDenied(id: "ap-1", gate: "deploy", timedOut: false, by: "bo", note: "no", message: "denied"),
        .approvalPending(id: "ap-2", gate: "call #1 over $0.001", what: "a gpt-4o call", message: "pending"),
        .callLimit(execution: "exec-0123456789ab", maxCalls: 3, message: "capped"),
    ]

    func testTheEngineSaysWhichErrorsAreRefusals() {
        XCTAssertEqual(refusals.map(\.isRefusal), [true, true, true, true, true, true])
        XCTAssertEqual(refusals.map { RetryFailure(error: $0).kind }, [.refused, .refused, .refused, .refused, .refused, .refused])
        XCTAssertFalse(WfloError.conflict(message: "c").isRefusal)
        XCTAssertFalse(WfloError.invalidArgument(message: "i").isRefusal)
        XCTAssertEqual(RetryFailure(error: WfloError.conflict(message: "c")).kind, .other)
    }

    func testNoRefusalCountsInABreakerAndAForeignErrorDoes() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let breaker = try engine.breaker("guarded", config: BreakerConfig(failureThreshold: 1))

        // A busy resource as the engine raises it: held elsewhere, asked for with timeout 0.
        let lock = try engine.resource("db")
        let held = try lock.acquireSync("wf-a", timeoutMs: 0)
        var busy: Error?
        XCTAssertThrowsError(try lock.acquireSync("wf-b", timeoutMs: 0)) { busy = $0 }
        try held.release()
        XCTAssertEqual((busy as? WfloError)?.code, "RESOURCE_BUSY")

        for refusal in refusals + [busy as! WfloError] {
            do {
                _ = try await breaker.call { () async throws -> Int in throw refusal }
                XCTFail("the call did not throw")
            } catch let error as WfloError {
                XCTAssertEqual(error, refusal)
            }
            let status = try breaker.status()
            XCTAssertEqual([UInt64(status.failureCount), status.totalFailures, status.totalCalls], [0, 0, 0],
                           refusal.code)
            XCTAssertEqual(status.state, .closed, refusal.code)
        }

        do {
            _ = try await breaker.call { () async throws -> Int in throw ServiceDown() }
            XCTFail("the call did not throw")
        } catch is ServiceDown {}
        let status = try breaker.status()
        XCTAssertEqual([UInt64(status.failureCount), status.totalFailures, status.totalCalls], [1, 1, 1])
        XCTAssertEqual(status.state, .open)
    }

    func testABusyResourceOrADeniedApprovalIsNeverRetried() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        for refusal in refusals where refusal.code == "RESOURCE_BUSY" || refusal.code == "APPROVAL_DENIED" {
            var runs = 0
            do {
                _ = try await withRetry(quick, engine: engine) { _ -> Int in
                    runs += 1
                    throw refusal
                }
                XCTFail("withRetry did not throw")
            } catch let error as WfloError {
                XCTAssertEqual(error, refusal)
            }
            XCTAssertEqual(runs, 1, refusal.code)
        }
    }
}
