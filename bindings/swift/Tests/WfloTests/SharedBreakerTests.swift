import Foundation
import XCTest
@testable import Wflo

/// Circuit breakers shared through the store (`BreakerConfig.shared`): two engines on one
/// SQLite file stand for two processes. The rule and the store transaction are the engine's;
/// these tests check the Swift settings, the typed `breakersOnStore` and that a shared
/// breaker's errors come out as `WfloError`.
final class SharedBreakerTests: XCTestCase {
    private let settings = BreakerConfig(failureThreshold: 2, recoveryTimeoutMs: 3_600_000, successThreshold: 1,
                                         shared: true)

    private func temporaryStore() throws -> (dir: URL, url: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wflo-breakers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return (dir, dir.appendingPathComponent("wflo.db").path)
    }

    func testTwoEnginesOnOneSQLiteFileStepOneSharedBreaker() async throws {
        let (dir, url) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = try Engine.open(url)
        defer { try? one.close() }
        let two = try Engine.open(url)
        defer { try? two.close() }

        let a = try one.breaker("provider:openai", config: settings)
        let b = try two.breaker("provider:openai", config: settings)
        XCTAssertEqual(try b.state, .closed)

        // One failure through each engine: the second opens it for both.
        try a.recordFailure()
        XCTAssertEqual(try b.state, .closed)
        try b.recordFailure()
        XCTAssertEqual(try a.state, .open)
        for breaker in [a, b] {
            XCTAssertThrowsError(try breaker.check()) { error in
                guard case let .circuitOpen(name, failures, retryInMs, _)? = error as? WfloError else {
                    return XCTFail("expected circuitOpen, got \(error)")
                }
                XCTAssertEqual(name, "provider:openai")
                XCTAssertEqual(failures, 2)
                XCTAssertTrue((1...3_600_000).contains(retryInMs), "\(retryInMs)")
            }
        }
        var ran = false
        do {
            _ = try await b.call { ran = true }
            XCTFail("an open breaker let the call run")
        } catch let error as WfloError {
            XCTAssertEqual(error.code, "CIRCUIT_OPEN")
        }
        XCTAssertFalse(ran)

        // The other engine lists it from the store.
        let onStore = try two.breakersOnStore()
        let shared = try XCTUnwrap(onStore.shared.first(where: { $0.name == "provider:openai" }))
        XCTAssertTrue(shared.shared)
        XCTAssertEqual(shared.state, .open)
        XCTAssertEqual(shared.failureCount, 2)
        XCTAssertEqual(shared.totalFailures, 2)
        XCTAssertEqual(shared.rejected, 3)
        XCTAssertNotNil(shared.retryInMs)
        let opened = onStore.transitions.filter { $0.breaker == "provider:openai" }
        XCTAssertEqual(opened.count, 1, "\(opened)")
        XCTAssertEqual(opened.first?.from, .closed)
        XCTAssertEqual(opened.first?.to, .open)
        XCTAssertEqual(opened.first?.reason, "2 consecutive failures")
        XCTAssertEqual(opened.first?.shared, true)
        // (retryInMs counts down between the two readings.)
        let byName = try one.breakersOnStore(name: "provider:openai")
        XCTAssertEqual(byName.transitions, onStore.transitions)
        XCTAssertEqual(byName.shared.map(\.name), ["provider:openai"])
        XCTAssertEqual(byName.shared.map(\.rejected), [3])
        XCTAssertEqual(try a.status().transitions, opened)

        // A reset through one engine closes it for the other.
        try a.reset()
        XCTAssertEqual(try b.state, .closed)
        try b.check()
        let answer = try await b.call { "x" }
        XCTAssertEqual(answer, "x")
        let after = try one.breakersOnStore(name: "provider:openai", limit: 1)
        XCTAssertEqual(after.transitions.count, 1)
        XCTAssertEqual(after.transitions.first?.from, .open)
        XCTAssertEqual(after.transitions.first?.to, .closed)
        XCTAssertEqual(after.transitions.first?.reason, "reset")
        XCTAssertEqual(after.shared.map(\.state), [.closed])
    }

    func testABreakerOfOneProcessRecordsItsChangesButKeepsItsState() async throws {
        let (dir, url) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let one = try Engine.open(url)
        defer { try? one.close() }
        let two = try Engine.open(url)
        defer { try? two.close() }

        struct Down: Error {}
        let local = try one.breaker("tool:search", config: BreakerConfig(failureThreshold: 1))
        do {
            _ = try await local.call { () async throws -> Int in throw Down() }
            XCTFail("the body's error was not rethrown")
        } catch is Down {}
        XCTAssertEqual(try local.state, .open)
        XCTAssertFalse(try local.status().shared)
        // The other engine has a closed breaker of that name of its own.
        XCTAssertEqual(try two.breaker("tool:search", config: BreakerConfig(failureThreshold: 1)).state, .closed)

        let onStore = try two.breakersOnStore()
        XCTAssertFalse(onStore.shared.contains(where: { $0.name == "tool:search" }))
        let changes = onStore.transitions.filter { $0.breaker == "tool:search" }
        XCTAssertEqual(changes.count, 1, "\(changes)")
        XCTAssertEqual(changes.first?.shared, false)
        XCTAssertEqual(changes.first?.from, .closed)
        XCTAssertEqual(changes.first?.to, .open)
        XCTAssertEqual(changes.first?.reason, "1 consecutive failures")
        XCTAssertEqual(try two.breakersOnStore(name: "nothing:here"), BreakersOnStoreTestValue.empty)
    }

    func testASharedBreakersStoreErrorsAreWfloErrors() throws {
        let (dir, url) = try temporaryStore()
        defer { try? FileManager.default.removeItem(at: dir) }
        let engine = try Engine.open(url)
        let b = try engine.breaker("provider:closed", config: settings)
        try engine.close()
        // The store is closed under the breaker: each call is a store transaction and fails typed.
        let calls: [() throws -> Void] = [
            { try b.recordFailure() }, { try b.recordSuccess() }, { try b.reset() },
            { _ = try b.state }, { _ = try b.status() }, { try b.check() },
        ]
        for call in calls {
            XCTAssertThrowsError(try call()) { error in
                XCTAssertTrue(["CLOSED", "STORAGE"].contains((error as? WfloError)?.code ?? ""), "\(error)")
            }
        }
    }
}

/// An empty `BreakersOnStore`, decoded as the engine writes it (the type has no public initializer).
private enum BreakersOnStoreTestValue {
    static let empty = try! JSON.decode(BreakersOnStore.self, #"{"shared":[],"transitions":[]}"#)
}
