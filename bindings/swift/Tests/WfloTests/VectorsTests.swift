import Foundation
import XCTest
@testable import Wflo

/// The shared vectors (tests/vectors) from Swift, as the Rust, Go, Python, Node and Kotlin
/// tests run them: the same engine must give the same answers through every door.
final class VectorsTests: XCTestCase {
    static let dir = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("../../../../tests/vectors").standardized

    func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.dir.appendingPathComponent(name))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func cases(_ file: [String: Any], _ key: String = "cases") throws -> [[String: Any]] {
        try XCTUnwrap(file[key] as? [[String: Any]])
    }

    /// JSON text of a parsed value (payloads are handed to the engine as text).
    func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
    }

    func u64(_ v: Any?) -> UInt64? {
        switch v {
        case let n as UInt64: return n
        case let n as Int: return n >= 0 ? UInt64(n) : nil
        case let n as NSNumber: return n.uint64Value
        default: return nil
        }
    }

    func usage(_ v: Any?) -> Usage {
        let o = v as? [String: Any] ?? [:]
        return Usage(input: u64(o["input"]) ?? 0, output: u64(o["output"]) ?? 0, cacheRead: u64(o["cache_read"]) ?? 0,
                     cacheWrite5m: u64(o["cache_write_5m"]) ?? 0, cacheWrite1h: u64(o["cache_write_1h"]) ?? 0,
                     reasoning: u64(o["reasoning"]) ?? 0)
    }

    func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let e as WfloError {
            return e.code
        } catch {
            return "not a wflo error: \(error)"
        }
    }

    func testPricing() throws {
        let engine = try Engine.open("memory://")
        let all = try cases(try load("pricing.json"))
        XCTAssertGreaterThan(all.count, 50)
        for c in all {
            let name = c["name"] as? String ?? "?"
            let model = c["model"] as? String ?? ""
            if let error = c["error"] as? String {
                XCTAssertEqual(code { _ = try engine.cost(model: model, usage: usage(c["usage"])) }, error, name)
            } else {
                XCTAssertEqual(try engine.cost(model: model, usage: usage(c["usage"])), u64(c["expected_nanos"]), name)
                XCTAssertEqual(try engine.resolvedModel(model), c["resolved"] as? String, name)
            }
        }
    }

    func testUsage() throws {
        let all = try cases(try load("usage.json"))
        XCTAssertGreaterThan(all.count, 45)
        for c in all {
            let name = c["name"] as? String ?? "?"
            let format = c["format"] as? String ?? ""
            var got: Usage?
            var state: [String: Any]?
            let failure = code {
                if format.hasSuffix("_stream") {
                    let stream = try UsageStream(format: String(format.dropLast("_stream".count)))
                    for event in c["events"] as? [Any] ?? [] { try stream.push(try text(event)) }
                    state = try JSONSerialization.jsonObject(with: Data(stream.stateJson().utf8)) as? [String: Any]
                    got = (state?["usage"] as? [String: Any]).map { usage($0) }
                } else {
                    got = try parseUsage(c["payload_text"] as? String ?? text(c["payload"] as Any), format: format)
                }
            }
            if let error = c["error"] as? String {
                XCTAssertEqual(failure, error, name)
            } else if let failure {
                XCTFail("\(name): unexpected \(failure)")
            } else if c["usage_missing"] as? Bool == true {
                let complete = state?["complete"] as? Bool ?? false
                XCTAssertFalse(got != nil && complete, "\(name): usage should be missing")
                XCTAssertEqual(state?["text"] as? String, c["text"] as? String, name)
            } else {
                XCTAssertEqual(got, usage(c["expected"]), name)
            }
        }
    }

    func testTokens() throws {
        let engine = try Engine.open("memory://")
        let file = try load("tokens.json")
        for c in try cases(file, "texts") {
            let t = c["text"] as? String ?? ""
            for (model, key) in [("gpt-4o", "o200k_base"), ("gpt-4", "cl100k_base")] {
                let count = engine.countTokens(model: model, text: t)
                XCTAssertEqual(count.tokens, u64(c[key]), "\(c["name"] ?? "?") \(model)")
                XCTAssertFalse(count.estimated)
            }
        }
        for c in try cases(file, "chat") {
            let model = c["encoding"] as? String == "o200k_base" ? "gpt-4o" : "gpt-4"
            let count = try engine.countChatTokens(model: model, messagesJson: try text(c["messages"] as Any))
            XCTAssertEqual(count.tokens, u64(c["expected"]), "\(c["name"] ?? "?")")
        }
    }

    func testBudget() throws {
        let file = try load("budget.json")
        let prices = try text(file["prices"] as Any)
        let cacheWrite: [String: CacheWrite] = ["none": .none, "five_minutes": .fiveMinutes, "one_hour": .oneHour]
        for c in try cases(file) {
            let name = c["name"] as? String ?? "?"
            let engine = try Engine.open("memory://")
            try engine.setPrices(prices)
            let wf: WfloWorkflow
            if let budget = c["budget_usd"] as? String {
                wf = try WfloWorkflow(name: name, budget: try XCTUnwrap(Decimal(string: budget)), engine: engine)
            } else {
                wf = try WfloWorkflow(name: name, engine: engine)
            }
            try wf.startSync()
            var held: [String: Reservation] = [:]
            for (i, step) in (c["steps"] as? [[String: Any]] ?? []).enumerated() {
                let op = step["op"] as? String ?? ""
                var actual: [String: Any] = [:]
                func record(_ body: () throws -> Settled) {
                    do {
                        let s = try body()
                        actual["cost_nanos"] = s.costNanos
                        actual["overrun_nanos"] = s.overrunNanos
                    } catch {
                        actual.merge(details(error)) { $1 }
                    }
                }
                let id = step["id"] as? String ?? ""
                switch op {
                case "scope":
                    let label = step["label"] as? String ?? ""
                    if let budget = (step["budget_usd"] as? String).flatMap({ Decimal(string: $0) }) {
                        _ = try wf.scope(label, budget: budget)
                    } else {
                        _ = try wf.scope(label)
                    }
                case "reserve":
                    let asked = u64(step["max_output_tokens"]) ?? 0
                    let request = CallRequest(
                        model: step["model"] as? String ?? "", inputTokens: u64(step["input_tokens"]) ?? 0,
                        inputEstimated: step["estimated"] as? Bool ?? false, maxOutputTokens: asked > 0 ? asked : nil,
                        cacheWrite: (step["cache_write"] as? String).flatMap { cacheWrite[$0] },
                        clampMaxTokens: step["clamp"] as? Bool ?? false)
                    do {
                        let scope: BudgetScope
                        if let label = step["scope"] as? String { scope = try wf.scope(label) } else { scope = wf }
                        let r = try scope.reserve(request)
                        held[id] = r
                        actual["amount_nanos"] = r.amountNanos
                        actual["max_output_tokens"] = r.maxOutputTokens
                        actual["clamped"] = asked > 0 && r.maxOutputTokens < asked
                    } catch {
                        actual.merge(details(error)) { $1 }
                    }
                case "settle":
                    record { try XCTUnwrap(held[id]).settle(usage(step["usage"])) }
                case "settle_raw":
                    record { try XCTUnwrap(held[id]).settleJson(format: step["format"] as? String ?? "", json: try text(step["payload"] as Any)) }
                case "release":
                    do { try XCTUnwrap(held[id]).release(status: "error", reason: "vector") } catch { actual.merge(details(error)) { $1 } }
                case "record":
                    record { try wf.recordCall(model: step["model"] as? String ?? "", response: try text(step["usage"] ?? [String: Any]()), format: "wflo") }
                case "breakdown":
                    let b = try JSONSerialization.jsonObject(with: Data(try wf.breakdownJson().utf8)) as? [String: Any] ?? [:]
                    actual.merge(b) { $1 }
                default:
                    XCTFail("\(name): unknown op \(op)")
                }
                for (key, want) in step["expect"] as? [String: Any] ?? [:] {
                    XCTAssertTrue(same(key, want, actual[key]), "\(name) step \(i) (\(op)): \(key) = \(String(describing: actual[key])), want \(want)")
                }
            }
            try engine.close()
        }
    }

    func details(_ error: Error) -> [String: Any] {
        guard let e = error as? WfloError else { return ["error": "not a wflo error: \(error)"] }
        var d: [String: Any] = ["error": e.code]
        if case let .budgetExceeded(_, _, _, scope, r, _) = e {
            d["scope"] = scope
            d["limit_nanos"] = r.limitNanos
            d["spent_nanos"] = r.spentNanos
            d["reserved_nanos"] = r.reservedNanos
            d["requested_nanos"] = r.requestedNanos
        }
        return d
    }

    /// An expected value against what the binding returned, by the kind each key holds.
    func same(_ key: String, _ want: Any, _ got: Any?) -> Bool {
        switch key {
        case "clamped": return (want as? Bool) == (got as? Bool)
        case "error", "scope": return (want as? String) == (got as? String)
        default:
            if want is NSNull { return got == nil || got is NSNull }
            return u64(want) != nil && u64(want) == u64(got)
        }
    }
}
