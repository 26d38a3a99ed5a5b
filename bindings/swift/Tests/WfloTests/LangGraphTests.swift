import Foundation
import XCTest
@testable import Wflo

/// LangGraphCheckpointer: a checkpoint put through the engine's wire form comes back from `get`
/// with its values, typed; a malformed request throws `.invalidArgument` and stores nothing.
/// (The cases of Kotlin's LangGraphCheckpointerTest.)
final class LangGraphTests: XCTestCase {
    private let checkpoint = Data(#"{"v":4,"id":"c1"}"#.utf8)
    private let metadata = Data(#"{"step":0}"#.utf8)
    private let channel = Data([0xa3, 0x61, 0x61, 0x61])

    private var put: String {
        #"{"op":"put","thread":"t","ns":"","id":"c1","parent":null,"checkpoint":0,"metadata":1,"#
            + #""channels":[["a","1",2]],"versions":{"a":"1"},"#
            + #""values":[["json",\#(checkpoint.count)],["json",\#(metadata.count)],["msgpack",\#(channel.count)]]}"#
    }

    private func object(_ answer: LangGraphAnswer) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(answer.json.utf8), options: .fragmentsAllowed) as? [String: Any])
    }

    func testPutThenGetRoundTripsTheValues() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "lg", budgetUsd: 1, engine: engine)
        try await wf.start()
        let saver = LangGraphCheckpointer()
        let stored = try await saver.call(wf, request: put, values: checkpoint + metadata + channel)
        XCTAssertEqual(stored.json, "null")
        XCTAssertEqual(stored.values, [])

        for got in [
            try await saver.call(wf, request: #"{"op":"get","thread":"t","ns":"","id":null}"#),
            try saver.callSync(wf, request: #"{"op":"get","thread":"t","ns":"","id":"c1"}"#),
        ] {
            let answer = try object(got)
            XCTAssertEqual(answer["id"] as? String, "c1")
            let v = got.values
            XCTAssertEqual(v[try XCTUnwrap(answer["checkpoint"] as? Int)], LangGraphValue(type: "json", data: checkpoint))
            XCTAssertEqual(v[try XCTUnwrap(answer["metadata"] as? Int)], LangGraphValue(type: "json", data: metadata))
            let channels = try XCTUnwrap(answer["channel_values"] as? [[Any]])
            XCTAssertEqual(channels.count, 1)
            XCTAssertEqual(channels[0][0] as? String, "a")
            XCTAssertEqual(v[try XCTUnwrap(channels[0][1] as? Int)], LangGraphValue(type: "msgpack", data: channel))
            XCTAssertEqual(got.joined, v.reduce(into: Data()) { $0.append($1.data) })
        }
        let name = try saver.callSync(nil, request: #"{"op":"name","thread":"t","ns":"","id":"c1"}"#)
        XCTAssertEqual(name.json, #""langgraph/t//c1""#)
    }

    func testAMalformedRequestThrowsInvalidArgumentAndStoresNothing() async throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "lg", budgetUsd: 1, engine: engine)
        try await wf.start()
        let saver = LangGraphCheckpointer()
        for (request, values) in [("not json", Data()), (#"{"op":"fly"}"#, Data()), (put, checkpoint)] {
            do {
                _ = try await saver.call(wf, request: request, values: values)
                XCTFail("\(request) was accepted")
            } catch let e as WfloError {
                guard case .invalidArgument = e else { return XCTFail("\(request): \(e)") }
            }
        }
        XCTAssertEqual(try saver.callSync(wf, request: #"{"op":"get","thread":"t","ns":""}"#).json, "null")
    }
}
