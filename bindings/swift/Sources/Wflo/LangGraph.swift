import Foundation
import WfloNative

// A LangGraph saver's index and records, decided in the engine (core/src/langgraph): a
// checkpoint stores only its changed channels and takes the rest from its parents, a task's
// writes are merged and ordered as LangGraph orders them, and a wflo rollback makes later
// checkpoints history. Each call is one request in the engine's wire form
// (`wflo_core::langgraph::wire`): JSON naming the operation (`put`, `put_writes`, `get`,
// `list`, `pending_writes`, `delete_thread`, `delete_checkpoints`, `copy_thread`, `prune`,
// `name`, `key_of`) and its fields, each value's `[type, length]` listed under `"values"` and
// their bytes one after another. The same shape as Kotlin's dev.wflo LangGraph.kt.
//
// (Not compiled here: there is no Swift toolchain in this repository's CI. Names follow the
// generated WfloNative.swift.)

/// A value as LangGraph's serializer wrote it: its type name and its bytes.
public struct LangGraphValue: Equatable, Hashable, Sendable {
    public let type: String
    public let data: Data

    public init(type: String, data: Data) {
        self.type = type
        self.data = data
    }
}

/// The answer to a `LangGraphCheckpointer` call: its JSON text (values by index into `values`,
/// their `[type, length]` under `"values"`) and the values, in that order.
public struct LangGraphAnswer: Equatable, Hashable, Sendable {
    public let json: String
    public let values: [LangGraphValue]

    public init(json: String, values: [LangGraphValue]) {
        self.json = json
        self.values = values
    }

    init(_ native: WfloNative.LangGraphAnswer) {
        self.init(json: native.json, values: native.values.map { LangGraphValue(type: $0.kind, data: $0.data) })
    }

    /// The values' bytes one after another, as the JSON's `"values"` lists them.
    public var joined: Data {
        values.reduce(into: Data()) { $0.append($1.data) }
    }
}

/// A LangGraph saver's index and records of one execution at a time. Thread-safe; the native
/// object is freed with this one.
public final class LangGraphCheckpointer: @unchecked Sendable {
    let native: NativeLangGraphCheckpointer

    public init() {
        native = NativeLangGraphCheckpointer()
    }

    /// Runs `request` on `workflow`'s execution (it must have started; nil only for `name` and
    /// `key_of`) off the caller's thread. A malformed request throws `.invalidArgument` and
    /// changes nothing.
    public func call(_ workflow: WfloWorkflow?, request: String, values: Data = Data()) async throws -> LangGraphAnswer {
        let exec = try workflow?.current()
        return LangGraphAnswer(try await engineCallAsync {
            try await native.callAsync(execution: exec, request: request, values: values)
        })
    }

    /// `call` blocking the caller's thread (for synchronous code).
    public func callSync(_ workflow: WfloWorkflow?, request: String, values: Data = Data()) throws -> LangGraphAnswer {
        let exec = try workflow?.current()
        return LangGraphAnswer(try engineCall { try native.call(execution: exec, request: request, values: values) })
    }
}
