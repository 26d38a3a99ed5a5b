"""wflo from Python beside litellm, tokencost and tiktoken, in one run on one machine.

  - import: wall time of `import X` in a fresh interpreter (median of several) and the process's
    peak RSS after it;
  - one cost computation (1,000 input + 200 output tokens on gpt-4o): wflo.cost beside
    litellm.cost_per_token and tokencost.calculate_cost_by_tokens (which prices ONE token type
    per call, so a usage takes two calls — both figures are printed);
  - one tracked call: wflo's reserve BEFORE + settle after, recorded in the execution.

Run by `make bench-python` (a release wheel in its own environment). Prints a table; the
figures quoted in the README come from one such run.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import timeit

# litellm fetches its price map from GitHub at import unless told to use the bundled copy;
# tokencost likewise reads its bundled table. Nothing here may use the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

PROBE = """
import resource, sys, time
t = time.perf_counter()
import {module}
elapsed = time.perf_counter() - t
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def import_cost(module: str, runs: int = 7) -> tuple[float, float]:
    """(median seconds, peak RSS MiB) of importing ``module`` in a fresh interpreter."""
    times, rss = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)], capture_output=True, text=True,
                             check=True, env=os.environ)
        t, r = out.stdout.split()
        times.append(float(t))
        rss.append(float(r))
    return statistics.median(times), statistics.median(rss)


def per_call(fn, number: int) -> float:
    """Best of 5 repeats, seconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main() -> None:
    results: dict = {"import": {}, "cost": {}, "tracked_call": {}}
    print("import (fresh interpreter; median of 7)")
    baseline_t, baseline_rss = import_cost("sys")
    for module in ("wflo", "tiktoken", "tokencost", "litellm"):
        t, rss = import_cost(module, 7 if module != "litellm" else 3)
        results["import"][module] = {"seconds": t, "rss_mib": rss}
        print(f"  {module:<10} {t * 1000:9.1f} ms   {rss:7.1f} MiB peak RSS")
    print(f"  (bare interpreter: {baseline_rss:.1f} MiB)")

    import litellm
    import tokencost

    import wflo

    model, tin, tout = "gpt-4o", 1000, 200
    want = wflo.cost(model, input=tin, output=tout)
    lite = litellm.cost_per_token(model=model, prompt_tokens=tin, completion_tokens=tout)
    tc_in = tokencost.calculate_cost_by_tokens(tin, model, "input")
    tc_out = tokencost.calculate_cost_by_tokens(tout, model, "output")
    print(f"\none cost: {tin} in + {tout} out on {model}: wflo ${want / 1e9:.6f}, litellm ${sum(lite):.6f}, "
          f"tokencost ${float(tc_in + tc_out):.6f}")

    engine = wflo.Engine.open("memory://")
    w = per_call(lambda: engine.cost(model, input=tin, output=tout), 200_000)
    wm = per_call(lambda: wflo.cost(model, input=tin, output=tout), 200_000)
    lt = per_call(lambda: litellm.cost_per_token(model=model, prompt_tokens=tin, completion_tokens=tout), 2_000)
    t1 = per_call(lambda: tokencost.calculate_cost_by_tokens(tin, model, "input"), 100_000)
    t2 = per_call(lambda: (tokencost.calculate_cost_by_tokens(tin, model, "input"),
                           tokencost.calculate_cost_by_tokens(tout, model, "output")), 100_000)
    results["cost"] = {"wflo_engine_us": w * 1e6, "wflo_module_us": wm * 1e6, "litellm_us": lt * 1e6,
                       "tokencost_one_type_us": t1 * 1e6, "tokencost_usage_us": t2 * 1e6}
    print("\none cost computation (best of 5)")
    print(f"  wflo engine.cost            {w * 1e6:8.2f} µs")
    print(f"  wflo.cost (module)          {wm * 1e6:8.2f} µs")
    print(f"  litellm.cost_per_token      {lt * 1e6:8.2f} µs   wflo is {lt / w:6.1f}x faster")
    print(f"  tokencost, one token type   {t1 * 1e6:8.2f} µs   wflo is {t1 / w:6.2f}x as fast")
    print(f"  tokencost, input + output   {t2 * 1e6:8.2f} µs   wflo is {t2 / w:6.2f}x as fast")

    wf = wflo.WfloWorkflow("bench", engine=engine).start_sync()

    def tracked():
        r = wf.reserve(model="gpt-4o-mini", input_tokens=120, max_output_tokens=200)
        r.settle(input=120, output=80)

    tc = per_call(tracked, 50_000)
    results["tracked_call"] = {"wflo_us": tc * 1e6}
    print("\none tracked call (reserve before + settle after + record)")
    print(f"  wflo                        {tc * 1e6:8.2f} µs   ({lt / tc:.1f}x faster than litellm pricing alone)")
    if os.environ.get("WFLO_BENCH_JSON"):
        with open(os.environ["WFLO_BENCH_JSON"], "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
