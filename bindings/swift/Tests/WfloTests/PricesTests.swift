import Foundation
import XCTest
@testable import Wflo

/// Price files from Swift: `Engine.loadPrices` (LiteLLM's JSON as published, wflo's own schema),
/// what a load reports, a bad file refused whole with its line, and the table a breakdown
/// names. The rules are core's; this checks the face carries them.
final class PricesTests: XCTestCase {
    /// The third entry's price is a string: refused at line 4, and lines 2 and 3 are not applied either.
    static let bad = "{\n"
        + "  \"acme-a\": {\"litellm_provider\": \"openai\", \"input_cost_per_token\": 1e-6, \"output_cost_per_token\": 2e-6},\n"
        + "  \"gpt-4o\": {\"input_cost_per_token\": 9e-6, \"output_cost_per_token\": 9e-6},\n"
        + "  \"acme-b\": {\"input_cost_per_token\": \"0.000001\", \"output_cost_per_token\": 2e-6}\n"
        + "}\n"

    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wflo-prices-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testALiteLLMFileAddsAModelThatIsThenPriced() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        // The parity scenario's file: adds acme-frontier-9, doubles gpt-4o's input price.
        let file = VectorsTests.dir.appendingPathComponent("prices/next-release.json")
        XCTAssertThrowsError(try engine.cost(model: "acme-frontier-9", usage: Usage(input: 1))) { error in
            XCTAssertEqual((error as? WfloError)?.code, "UNKNOWN_MODEL")
        }

        let changes = try engine.loadPrices(url: file)
        XCTAssertEqual(changes.origin, file.path)
        XCTAssertEqual(changes.format, "litellm")
        XCTAssertEqual(changes.added, ["acme-frontier-9"])
        XCTAssertEqual(changes.changed.map(\.name), ["gpt-4o"])
        XCTAssertTrue(changes.changed[0].fields.contains(
            PriceFieldChange(field: "input", before: .integer(2_500_000), after: .integer(5_000_000))))
        XCTAssertEqual(changes.skipped.map(\.name), ["acme-image-3"])
        XCTAssertGreaterThan(changes.skipped[0].line, 1)

        // $3 + $15 per million.
        XCTAssertEqual(try engine.cost(model: "acme-frontier-9", usage: Usage(input: 1_000_000, output: 1_000_000)),
                       18_000_000_000)
        let table = try engine.priceTable()
        XCTAssertEqual(table.files.map(\.origin), [file.path])
        XCTAssertEqual(table.files.first?.format, "litellm")
        XCTAssertGreaterThanOrEqual(table.overrides, 2)

        let wf = try WfloWorkflow(name: "priced", budget: Decimal(string: "0.05")!, engine: engine)
        try wf.recordCall(model: "acme-frontier-9", usage: Usage(input: 14, output: 300))
        let b = try wf.breakdown()
        XCTAssertEqual(b.totalNanos, 14 * 3_000 + 300 * 15_000)
        XCTAssertTrue(b.priceTable.contains(" + next-release.json (LiteLLM, "), b.priceTable)
    }

    func testABadFileThrowsNamingTheLineAndNothingIsApplied() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let bad = try tempDir().appendingPathComponent("bad.json")
        try Self.bad.write(to: bad, atomically: true, encoding: .utf8)
        let before = try engine.cost(model: "gpt-4o", usage: Usage(input: 1000))

        XCTAssertThrowsError(try engine.loadPrices(path: bad.path)) { error in
            guard case let .invalidArgument(message)? = error as? WfloError else {
                return XCTFail("expected invalidArgument, got \(error)")
            }
            XCTAssertTrue(message.contains("bad.json, line 4") && message.contains("acme-b"), message)
        }
        XCTAssertThrowsError(try engine.cost(model: "acme-a", usage: Usage(input: 1)))
        XCTAssertEqual(try engine.cost(model: "gpt-4o", usage: Usage(input: 1000)), before)
        XCTAssertEqual(try engine.priceTable().files, [])
        XCTAssertThrowsError(try engine.loadPrices(url: URL(string: "https://example.com/prices.json")!)) { error in
            XCTAssertEqual((error as? WfloError)?.code, "INVALID_ARGUMENT")
        }
    }

    func testTheBreakdownNamesTheTableAndTheFile() throws {
        let engine = try Engine.open("memory://")
        defer { try? engine.close() }
        let wf = try WfloWorkflow(name: "named", engine: engine)
        try wf.startSync()
        let table = try engine.priceTable()
        XCTAssertTrue(table.files.isEmpty)
        XCTAssertEqual(try wf.breakdown().priceTable, "\(table.source) \(table.version) (\(table.retrieved))")

        let ours = try tempDir().appendingPathComponent("ours.json")
        let text = "{\"schema_version\": 1, \"source\": {\"version\": \"2026-12-01\", \"retrieved\": \"2026-12-01\"},\n"
            + " \"models\": [{\"name\": \"in-house-llm\", \"provider\": \"vllm\", \"input\": 100000, \"output\": 200000}]}\n"
        try text.write(to: ours, atomically: true, encoding: .utf8)
        let changes = try engine.loadPrices(url: ours)
        XCTAssertEqual(changes.format, "wflo")
        XCTAssertEqual(changes.added, ["in-house-llm"])
        XCTAssertEqual(try engine.priceTable().files.first?.version, "2026-12-01")
        let label = try wf.breakdown().priceTable
        XCTAssertTrue(label.hasSuffix(" + ours.json (wflo 2026-12-01, 2026-12-01)"), label)
    }
}
