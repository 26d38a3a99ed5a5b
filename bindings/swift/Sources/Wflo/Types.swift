import Foundation
import WfloNative

// The generated records are the values callers use; re-exported under the module's names so
// `import Wflo` is enough (WfloNative itself is not re-exported: its WfloError would clash).
public typealias Usage = WfloNative.Usage
public typealias Settled = WfloNative.Settled
public typealias TokenCount = WfloNative.TokenCount
public typealias CacheWrite = WfloNative.CacheWrite
public typealias CallRequest = WfloNative.CallRequest

extension Settled {
    public var costUsd: Double { usd(costNanos) }
}

/// How an execution ended.
public enum ExecutionStatus: String, Sendable {
    case completed
    case failed
    case budgetExceeded = "budget_exceeded"
}

/// Cost of one step within an execution; `budgetNanos` is the step's own limit, if any.
public struct StepCost: Decodable, Equatable, Sendable {
    public let step: String
    public let calls: UInt64
    public let refused: UInt64
    public let costNanos: UInt64
    public let budgetNanos: UInt64?
}

/// Cost of one model within an execution.
public struct ModelCost: Decodable, Equatable, Sendable {
    public let model: String
    public let calls: UInt64
    public let costNanos: UInt64
}

/// Where an execution's money went, in nano-USD (the `…Usd` properties are for display).
public struct Breakdown: Decodable, Equatable, Sendable {
    public let executionId: String
    public let name: String
    public let status: String
    public let totalNanos: UInt64
    public let budgetNanos: UInt64?
    public let reservedNanos: UInt64
    public let remainingNanos: UInt64?
    public let overrunNanos: UInt64
    public let calls: UInt64
    public let refusedCalls: UInt64
    public let estimatedCalls: UInt64
    public let byModel: [ModelCost]
    public let byStep: [StepCost]

    public var totalUsd: Double { usd(totalNanos) }
    public var budgetUsd: Double? { budgetNanos.map(usd) }
    public var remainingUsd: Double? { remainingNanos.map(usd) }
}

/// A saved checkpoint, without its state.
public struct CheckpointInfo: Decodable, Equatable, Sendable {
    public let id: UInt64
    public let name: String
    /// Order within the execution, from 1.
    public let sequence: UInt64
    public let parentId: UInt64?
    /// The execution's spend when it was saved.
    public let spentNanos: UInt64
    /// True once a rollback to an earlier checkpoint made this one history.
    public let superseded: Bool
}

/// The engine's JSON reports, decoded with its snake_case keys.
enum JSON {
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw WfloError.internalError(message: "unexpected JSON from the engine: \(error)")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            throw invalid("the value is not JSON-encodable: \(error)")
        }
    }
}
