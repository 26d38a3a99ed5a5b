// One tracked call from Kotlin (reserve + settle + record), in a loop: prints the nanoseconds
// per call, as bench/c/tracked_call.c does for the C ABI, with the same request, usage and a
// fresh execution every 10,000 calls. Run by bindings/kotlin/bench.sh and bench/tracked_call.sh.
//
//   java -cp … dev.wflo.bench.TrackedCallKt [N] [layer|generated|cost]
//
// `layer` (default) goes through dev.wflo (WfloWorkflow.reserve → Reservation.settle → close);
// `generated` calls the UniFFI objects directly, to show what the layer adds; `cost` times
// Engine.cost alone (gpt-4o, 1,000 in + 200 out), as bench/c/tracked_call.c's cost mode does. The JVM first
// runs N untimed calls so the JIT has compiled the path. With WFLO_BENCH_JSON set it prints
// {"calls": N, "ns_per_call": X}.
package dev.wflo.bench

import dev.wflo.Engine
import dev.wflo.Usage
import dev.wflo.WfloWorkflow
import dev.wflo.ffi.CallRequest
import dev.wflo.ffi.NativeEngine
import dev.wflo.ffi.Usage as NativeUsage

private const val PER_EXECUTION = 10_000

private fun layer(engine: Engine, n: Int): Long {
    val usage = Usage(input = 1000, cacheRead = 200, output = 350)
    var wf: WfloWorkflow? = null
    var total = 0L
    for (i in 0 until n) {
        if (i % PER_EXECUTION == 0) {
            wf?.close()
            wf = WfloWorkflow("bench", budgetUsd = 1_000_000, engine = engine).startBlocking()
        }
        val t = System.nanoTime()
        wf!!.reserve(model = "gpt-4o-mini", inputTokens = 1200, maxOutputTokens = 400).use { it.settle(usage) }
        total += System.nanoTime() - t
    }
    wf?.close()
    return total
}

private fun generated(engine: NativeEngine, n: Int): Long {
    val request = CallRequest(model = "gpt-4o-mini", inputTokens = 1200uL, maxOutputTokens = 400uL)
    val usage = NativeUsage(input = 1000uL, cacheRead = 200uL, output = 350uL)
    var exec: dev.wflo.ffi.NativeExecution? = null
    var total = 0L
    for (i in 0 until n) {
        if (i % PER_EXECUTION == 0) {
            exec?.close()
            exec = engine.startExecution("bench", 1_000_000_000_000_000uL, dev.wflo.ffi.StartOptions())
        }
        val t = System.nanoTime()
        exec!!.reserve(request).use { it.settle(usage) }
        total += System.nanoTime() - t
    }
    exec?.close()
    return total
}

private fun cost(engine: Engine, n: Int): Long {
    val usage = Usage(input = 1000, output = 200)
    var sink = 0L
    val t = System.nanoTime()
    for (i in 0 until n) sink += engine.cost("gpt-4o", usage)
    val total = System.nanoTime() - t
    check(sink == 4_500_000L * n) { "gpt-4o 1,000 in + 200 out should cost 4,500,000 nano-USD" }
    return total
}

fun main(args: Array<String>) {
    val n = args.getOrNull(0)?.toInt() ?: 200_000
    val mode = args.getOrNull(1) ?: "layer"
    Engine.open("memory://").use { engine ->
        val run: (Int) -> Long = when (mode) {
            "layer" -> { k -> layer(engine, k) }
            "generated" -> { k -> generated(engine.native, k) }
            "cost" -> { k -> cost(engine, k) }
            else -> error("mode must be layer, generated or cost, got $mode")
        }
        run(n) // warm-up: interpreted and C1 code would otherwise dominate the figure
        val perCall = run(n).toDouble() / n
        if (System.getenv("WFLO_BENCH_JSON") != null) {
            println("{\"calls\": $n, \"ns_per_call\": ${"%.1f".format(perCall)}}")
        } else {
            println("%.0f".format(perCall))
        }
    }
}
