// The quick tour from Swift: start an execution, track a call, hit the budget, checkpoint,
// roll back, print the breakdown. The README's Swift snippet is the part between the tour
// markers. bindings/swift compiles this file into its tests (Tests/WfloTests/QuickTour.swift
// is a link to it) and QuickTourTests checks what it returns; that needs a Swift toolchain.
import Foundation
import Wflo

func quickTour() async throws -> (Breakdown, Settled) {
    // tour:start
    let engine = try Engine.open("memory://")
    let workflow = try WfloWorkflow(name: "research-agent", budgetUsd: 0.01, engine: engine)

    let settled = try await workflow.execute { wf in
        // Count the prompt, reserve the worst case BEFORE the request leaves the process…
        let prompt = try engine.countChatTokens(
            model: "gpt-4o-mini", messages: [["role": "user", "content": "Find three papers on BPE tokenizers."]])
        let call = try wf.scope("search").reserve(model: "gpt-4o-mini", inputTokens: prompt.tokens, maxOutputTokens: 400)
        // …send it, then settle with the usage the provider reported.
        let settled = try call.settleJson(
            format: "openai_chat", json: #"{"usage":{"prompt_tokens":21,"completion_tokens":180}}"#)
        print(String(format: "call cost $%.8f", settled.costUsd))
        try await wf.checkpoint("searched", state: ["papers": ["a", "b", "c"]])

        // A call that could overspend is refused before anything is sent.
        do {
            _ = try wf.scope("write").reserve(model: "gpt-4o", inputTokens: 3000, maxOutputTokens: 4000)
            fatalError("expected a refusal")
        } catch let WfloError.budgetExceeded(_, budgetUsd, requestedUsd, _, _, _) {
            print(String(format: "refused: needs up to $%.4f of a $%.2f budget", requestedUsd, budgetUsd))
        }

        // Roll back to the last good state and look at where the money went.
        let state = try await wf.rollbackToCheckpoint("searched")
        print("rolled back to \(state)")
        return settled
    }
    let b = try workflow.breakdown()
    print(String(format: "total $%.8f of $%.2f, ", b.totalUsd, b.budgetUsd ?? 0) + "\(b.calls) call(s), \(b.refusedCalls) refused")
    // tour:end
    try engine.close()
    return (b, settled)
}
