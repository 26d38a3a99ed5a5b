import Foundation
import XCTest
@testable import Wflo

/// Binary checkpoint states: bytes in the caller's own format, named by a content type, come
/// back byte for byte beside JSON states; the JSON-only rollback refuses them and changes
/// nothing; a bad content type is refused; bytes without one are named by the engine; and
/// checkpointsSince reads what is new, checkpointsSinceWithState that and a state in one call.
/// (The cases of Kotlin's BinaryCheckpointTest, CheckpointsSinceTest and
/// CheckpointsSinceWithStateTest.)
final class BinaryCheckpointTests: XCTestCase {
    private let everyByte = Data((0...255).map { UInt8($0) })

    func testEveryByteValueAndALargeStateComeBackByteForByte() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "w", budgetUsd: 1, engine: engine)
        let small = try await wf.checkpointBinary("graph", contentType: "application/msgpack", data: everyByte)
        XCTAssertEqual(small.contentType, "application/msgpack")
        let large = Data((0..<(100 * 1024)).map { _ in UInt8.random(in: 0...255) })
        try await wf.checkpointBinary("history", contentType: "application/x-protobuf", data: large)

        XCTAssertEqual(try wf.latestCheckpointAny(), .binary(contentType: "application/x-protobuf", bytes: large))
        XCTAssertEqual(try wf.checkpointStateAny(small.id), .binary(contentType: "application/msgpack", bytes: everyByte))
        let back = try await wf.rollbackToCheckpointAny("graph")
        XCTAssertEqual(back, .binary(contentType: "application/msgpack", bytes: everyByte))

        let plan = try await wf.checkpoint("plan", state: ["step": 1])
        XCTAssertNil(plan.contentType)
        XCTAssertEqual(try wf.latestCheckpointAny(), .json(text: "{\"step\":1}"))
    }

    func testTheJsonOnlyRollbackRefusesABinaryStateAndChangesNothing() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "w", budgetUsd: 1, engine: engine)
        try await wf.checkpointBinary("graph", contentType: "application/msgpack", data: everyByte)
        try await wf.checkpoint("plan", state: ["step": 2])
        do {
            _ = try await wf.rollbackToCheckpoint("graph")
            XCTFail("the rollback did not throw")
        } catch let error as WfloError {
            XCTAssertEqual(error.code, "INVALID_ARGUMENT")
            XCTAssertTrue(error.message.contains("application/msgpack"), error.message)
        }
        // Nothing superseded: "plan" is still the latest live checkpoint.
        XCTAssertEqual(try wf.latestCheckpointAny(), .json(text: "{\"step\":2}"))
    }

    func testABadContentTypeIsRefused() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "w", budgetUsd: 1, engine: engine)
        try await wf.start()
        for bad in ["", "application/ msgpack", "application/msgpäck", String(repeating: "a", count: 256)] {
            do {
                try await wf.checkpointBinary("graph", contentType: bad, data: everyByte)
                XCTFail("content type '\(bad)' was accepted")
            } catch let error as WfloError {
                XCTAssertEqual(error.code, "INVALID_ARGUMENT")
            }
        }
        XCTAssertNil(try wf.latestCheckpointAny())
    }

    func testBytesWithoutAContentTypeAreNamedByTheEngine() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "w", budgetUsd: 1, engine: engine)
        let raw = try await wf.checkpointBinary("raw", data: everyByte)
        XCTAssertEqual(raw.contentType, "application/octet-stream")
        XCTAssertEqual(try wf.latestCheckpointAny(), .binary(contentType: "application/octet-stream", bytes: everyByte))
    }

    func testCheckpointsSinceReadsWhatIsNewAndCountsRollbacks() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "w", budgetUsd: 1, engine: engine)
        try await wf.start()
        let none = try wf.checkpointsSince(0)
        XCTAssertEqual(none, CheckpointsSince(checkpoints: [], rollbacks: 0))
        try await wf.checkpoint("first", state: ["step": 1])
        let second = try await wf.checkpointBinary("second", contentType: "application/msgpack", data: Data([1, 2]))
        let third = try await wf.checkpoint("third", state: ["step": 3])
        XCTAssertEqual(try wf.checkpointsSince(second.sequence).checkpoints.map { $0.name }, ["third"])
        _ = try await wf.rollbackToCheckpointAny("second")
        let after = try wf.checkpointsSince(0)
        XCTAssertEqual(after.rollbacks, 1)
        XCTAssertEqual(after.checkpoints.map { $0.superseded }, [false, false, true])
        XCTAssertEqual(try wf.checkpointsSince(third.sequence), CheckpointsSince(checkpoints: [], rollbacks: 1))
        XCTAssertEqual(try wf.checkpointsSince(1000), CheckpointsSince(checkpoints: [], rollbacks: 1))
    }

    func testCheckpointsSinceWithStateEqualsTheSeparateCalls() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "w", budgetUsd: 1, engine: engine)
        try await wf.start()
        let plan = try await wf.checkpoint("plan", state: ["step": 1])
        let packed = try await wf.checkpointBinary("packed", contentType: "application/msgpack", data: Data([1, 2, 3]))
        func apart(_ after: UInt64, _ id: UInt64) throws -> CheckpointsSinceWithState {
            let since = try wf.checkpointsSince(after)
            return CheckpointsSinceWithState(checkpoints: since.checkpoints, rollbacks: since.rollbacks,
                                             state: try wf.checkpointStateAny(id))
        }
        XCTAssertEqual(try wf.checkpointsSinceWithState(0, checkpointId: plan.id), try apart(0, plan.id))
        let binary = try wf.checkpointsSinceWithState(plan.sequence, checkpointId: packed.id)
        XCTAssertEqual(binary, try apart(plan.sequence, packed.id))
        XCTAssertEqual(binary.state, .binary(contentType: "application/msgpack", bytes: Data([1, 2, 3])))
        _ = try await wf.rollbackToCheckpointAny("plan")
        let after = try wf.checkpointsSinceWithState(0, checkpointId: packed.id)
        XCTAssertEqual(after, try apart(0, packed.id))
        XCTAssertEqual(after.rollbacks, 1)
        XCTAssertThrowsError(try wf.checkpointsSinceWithState(0, checkpointId: 1_000_000)) { error in
            XCTAssertEqual((error as? WfloError)?.code, "NOT_FOUND")
        }
    }
}
