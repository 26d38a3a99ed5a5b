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
    /// The prices of the engine that made this breakdown, in one line: the built-in table's
    /// source and date, and the price files loaded over it (`Engine.priceTable()` in full).
    public let priceTable: String

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
    /// The content type of a binary state (`checkpointBinary`); nil for a JSON one.
    public let contentType: String?
}

/// What `checkpointsSince` read: the checkpoints after a sequence, and the rollback count.
public struct CheckpointsSince: Equatable, Sendable {
    /// The checkpoints saved after the sequence asked for, in order, superseded ones included.
    public let checkpoints: [CheckpointInfo]
    /// How many rollbacks the execution has had: when it grew, earlier checkpoints may have
    /// become history.
    public let rollbacks: UInt64
}

/// What `checkpointsSinceWithState` read in one call: what `checkpointsSince` reads, and one
/// checkpoint's state of either kind.
public struct CheckpointsSinceWithState: Equatable, Sendable {
    /// The checkpoints saved after the sequence asked for, in order, superseded ones included.
    public let checkpoints: [CheckpointInfo]
    /// How many rollbacks the execution has had: when it grew, earlier checkpoints may have
    /// become history.
    public let rollbacks: UInt64
    /// The state of the checkpoint asked for, of either kind.
    public let state: CheckpointState
}

/// A checkpoint's state of either kind, as `rollbackToCheckpointAny`, `latestCheckpointAny` and
/// `checkpointStateAny` return it: `.json(text:)`, the JSON text a `checkpoint` saved, or
/// `.binary(contentType:bytes:)`, the bytes a `checkpointBinary` saved, byte for byte. (The
/// generated enum itself: it is already Swift's own, Equatable and Hashable by content.)
public typealias CheckpointState = WfloNative.CheckpointState

/// A JSON value as the engine reports it (a price field before or after a price file).
public enum JSONValue: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    /// A whole number (prices in pico-USD per token, token limits).
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }
}

/// One field of a model's entry before and after a price file (`.null`: absent); prices in
/// pico-USD per token.
public struct PriceFieldChange: Decodable, Equatable, Sendable {
    public let field: String
    public let before: JSONValue
    public let after: JSONValue

    public init(field: String, before: JSONValue, after: JSONValue) {
        self.field = field
        self.before = before
        self.after = after
    }

    private enum CodingKeys: String, CodingKey { case field, before, after }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        field = try c.decode(String.self, forKey: .field)
        before = try c.decodeIfPresent(JSONValue.self, forKey: .before) ?? .null
        after = try c.decodeIfPresent(JSONValue.self, forKey: .after) ?? .null
    }
}

/// A model whose entry a price file changes, field by field.
public struct PriceChange: Decodable, Equatable, Sendable {
    public let name: String
    public let fields: [PriceFieldChange]
}

/// An entry of a price file that is not a per-token price (LiteLLM's image, audio, search
/// prices…): reported, never an error. `line` is its line in the file.
public struct SkippedPrice: Decodable, Equatable, Sendable {
    public let name: String
    public let line: UInt64
    public let reason: String
}

/// What `Engine.loadPrices(path:)` changed in the table. `format` is "wflo" or "litellm";
/// `models` the price entries in the file; `added` the names the table did not have;
/// `unchanged` the entries equal to what it had.
public struct PriceChanges: Decodable, Equatable, Sendable {
    public let origin: String
    public let format: String
    public let models: UInt64
    public let added: [String]
    public let changed: [PriceChange]
    public let unchanged: UInt64
    public let skipped: [SkippedPrice]
}

/// A price file loaded over the built-in table. `version` and `retrieved` are what it states
/// (else the day it was last written); nil when unknown.
public struct PriceFile: Decodable, Equatable, Sendable {
    public let origin: String
    public let format: String
    public let version: String?
    public let retrieved: String?
    public let models: UInt64
}

/// Where an engine's prices come from: the built-in table's `source`, `version` and
/// `retrieved` date, the `files` loaded over it in order, and `overrides` (names priced at run
/// time by files and `Engine.setPrices(_:)`). `Breakdown.priceTable` is the same in one line.
public struct PriceTable: Decodable, Equatable, Sendable {
    public let source: String
    public let version: String
    public let retrieved: String
    public let models: UInt64
    public let files: [PriceFile]
    public let overrides: UInt64
}

/// The engine's JSON reports, decoded with its snake_case keys.
enum JSON {
    /// `keys`: `.useDefaultKeys` for reports that carry JSON values of their own (a price
    /// file's fields before and after), whose keys must stay as the engine wrote them.
    static func decode<T: Decodable>(_ type: T.Type, _ text: String,
                                     keys: JSONDecoder.KeyDecodingStrategy = .convertFromSnakeCase) throws -> T {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = keys
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
