"""Builds every contender `make bench` runs, each in release mode and in a throwaway place, and
says which could not be built and why (a table then shows that reason instead of a figure).

  rust    the wflo-core examples (count_file, hot_loop, cold_start, shared_bench, checkpoint_bench)
  c       bench/c/tracked_call.c linked statically against libwflo.a
  go      bindings/go's test binary (its BenchmarkTrackedCall / BenchmarkCost), cgo + libwflo.a
  node    the napi addon (release) copied to WORK/wflo.node, and js-tiktoken + gpt-tokenizer
          installed from bench/node/package-lock.json into WORK/node
  python  the release wheel installed into the running interpreter (the bench's venv, which
          holds litellm, tokencost, tiktoken and LangGraph's savers), tiktoken's vocabularies
  kotlin  bindings/kotlin/bench.sh --build (the jar and its bench classes), where java and mvn are installed

WORK is $WFLO_CACHE/bench; build output goes to WORK/build.log.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

NATIVE_LIBS = ["-lm", "-ldl", "-lpthread", "-lrt", "-lutil", "-lgcc_s"]
RUST_EXAMPLES = ["count_file", "hot_loop", "cold_start", "shared_bench", "checkpoint_bench"]


@dataclass
class Env:
    root: Path
    cache: Path
    target: Path
    corpus: Path
    work: Path
    pg_url: Optional[str]
    built: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def need(self, *parts: str) -> Optional[str]:
        """Why a contender built from `parts` cannot run, or None."""
        for p in parts:
            if p in self.missing:
                return self.missing[p]
            if p not in self.built:
                return f"not built ({p})"
        return None

    def example(self, name: str) -> str:
        return str(self.target / "release" / "examples" / name)

    @property
    def python(self) -> str:
        return sys.executable


def make_env(root: Path) -> Env:
    cache = Path(os.environ.get("WFLO_CACHE", Path.home() / ".cache" / "wflo"))
    target = Path(os.environ.get("CARGO_TARGET_DIR", cache / "target"))
    corpus = Path(os.environ.get("WFLO_CORPUS_DIR", cache / "corpus"))
    work = cache / "bench"
    work.mkdir(parents=True, exist_ok=True)
    return Env(root, cache, target, corpus, work, os.environ.get("WFLO_TEST_POSTGRES_URL") or None)


def step(env: Env, name: str, commands: list[tuple[list[str], dict]], cwd: Optional[Path] = None) -> bool:
    """Runs build commands in order; records why `name` is missing if one fails."""
    t = time.perf_counter()
    log = env.work / "build.log"
    with open(log, "a") as f:
        for argv, extra in commands:
            f.write(f"\n$ {' '.join(argv)}\n")
            f.flush()
            r = subprocess.run(argv, cwd=cwd or env.root, env={**os.environ, **extra}, stdout=f,
                               stderr=subprocess.STDOUT)
            if r.returncode != 0:
                tail = log.read_text().strip().splitlines()[-1][:200]
                env.missing[name] = f"build failed: {' '.join(argv[:3])} … ({tail}); see {log}"
                print(f"  setup {name}: FAILED ({time.perf_counter() - t:.0f} s): {tail}", file=sys.stderr)
                return False
    print(f"  setup {name}: ok ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)
    return True


def tool(env: Env, name: str, *exes: str) -> bool:
    for exe in exes:
        if shutil.which(exe) is None:
            env.missing[name] = f"not built: no `{exe}` on this machine"
            print(f"  setup {name}: skipped, no {exe}", file=sys.stderr)
            return False
    return True


def build_rust(env: Env) -> None:
    examples = [a for e in RUST_EXAMPLES for a in ("--example", e)]
    if step(env, "rust", [(["cargo", "build", "-q", "--release", "-p", "wflo-core", *examples], {})]):
        env.built["rust"] = env.target / "release" / "examples"
    if step(env, "ffi", [(["cargo", "build", "-q", "--release", "-p", "wflo-ffi"], {})]):
        env.built["ffi"] = env.target / "release" / "libwflo.a"


def build_c(env: Env) -> None:
    if "ffi" not in env.built or not tool(env, "c", "gcc"):
        env.missing.setdefault("c", env.missing.get("ffi", "not built (libwflo.a)"))
        return
    out = env.work / "tracked_call_c"
    cmd = ["gcc", "-O2", "-std=c11", "-Iffi/include", "bench/c/tracked_call.c", str(env.built["ffi"]),
           *NATIVE_LIBS, "-o", str(out)]
    if step(env, "c", [(cmd, {})]):
        env.built["c"] = out


def build_go(env: Env) -> None:
    if "ffi" not in env.built or not tool(env, "go", "go"):
        env.missing.setdefault("go", env.missing.get("ffi", "not built (libwflo.a)"))
        return
    out = env.work / "wflo_go_bench.test"
    # The Go package finds libwflo with pkg-config: a wflo.pc naming the static release library.
    lib = env.built["ffi"].resolve().parent
    pc_dir = env.work / "pkgconfig"
    pc_dir.mkdir(parents=True, exist_ok=True)
    pc = subprocess.run([str(env.root / "ffi" / "wflo-pc.sh"), "--static", str(lib), str(lib),
                         str(env.root / "ffi" / "include")], capture_output=True, text=True, check=True)
    (pc_dir / "wflo.pc").write_text(pc.stdout)
    # For Go's cache, the library named (ffi/cgo-stamp.sh says why).
    stamp = subprocess.run([str(env.root / "ffi" / "cgo-stamp.sh"), str(lib / "libwflo.a")], capture_output=True,
                           text=True, check=True).stdout.strip()
    flags = {"PKG_CONFIG_PATH": str(pc_dir), "CGO_CPPFLAGS": stamp}
    if step(env, "go", [(["go", "test", "-c", "-o", str(out)], flags)], cwd=env.root / "bindings" / "go"):
        env.built["go"] = out


def same_files(a: Path, b: Path, names: list[str]) -> bool:
    return all((b / n).exists() and (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def build_node(env: Env) -> None:
    if not tool(env, "node", "node", "npm"):
        return
    if not step(env, "node", [(["cargo", "build", "-q", "--release", "-p", "wflo-node"], {})]):
        return
    addon = env.work / "wflo.node"  # require() loads a native addon by its .node suffix
    shutil.copyfile(env.target / "release" / "libwflo_node.so", addon)
    modules = env.work / "node"
    files = ["package.json", "package-lock.json"]
    if not same_files(env.root / "bench" / "node", modules, files) or not (modules / "node_modules").is_dir():
        shutil.rmtree(modules, ignore_errors=True)
        modules.mkdir(parents=True)
        for n in files:
            shutil.copyfile(env.root / "bench" / "node" / n, modules / n)
        if not step(env, "node-packages", [(["npm", "ci", "--no-audit", "--no-fund", "--silent"], {})], cwd=modules):
            env.missing["node"] = env.missing["node-packages"]
            shutil.rmtree(modules, ignore_errors=True)
            return
    os.environ["WFLO_NODE_ADDON"] = str(addon)
    os.environ["WFLO_BENCH_NODE_MODULES"] = str(modules)
    env.built["node"] = addon


def build_python(env: Env) -> None:
    bindir = Path(sys.executable).parent
    wheels = env.work / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    if not step(env, "python", [([str(bindir / "maturin"), "build", "--release", "--quiet", "--out", str(wheels)], {})],
                cwd=env.root / "bindings" / "python"):
        return
    wheel = next(wheels.glob("wflo-*.whl"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--force-reinstall", str(wheel)]
    if not step(env, "python-install", [(pip, {})]):
        env.missing["python"] = env.missing["python-install"]
        return
    tiktoken = env.work / "tiktoken"
    if not step(env, "tiktoken", [([sys.executable, "bench/python/tiktoken_cache.py", str(tiktoken)], {})]):
        return
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tiktoken)
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.built["python"] = wheel
    env.built["tiktoken"] = tiktoken


def build_kotlin(env: Env) -> None:
    script = env.root / "bindings" / "kotlin" / "bench.sh"
    if not script.exists():
        env.missing["kotlin"] = "not built: no bindings/kotlin/bench.sh"
        print("  setup kotlin: skipped, no bindings/kotlin/bench.sh", file=sys.stderr)
        return
    if tool(env, "kotlin", "java", "mvn") and step(env, "kotlin", [([str(script), "--build"], {})]):
        env.built["kotlin"] = script


def find_postgres(env: Env) -> None:
    if env.pg_url:
        env.built["pg"] = Path("/")
    else:
        env.missing["pg"] = "no PostgreSQL server (tests/pg/with-postgres.sh needs /usr/lib/postgresql/*/bin)"


def build_all(env: Env) -> None:
    (env.work / "build.log").write_text("")
    print("setup (release builds; output in WORK/build.log)", file=sys.stderr)
    for f in (build_rust, build_c, build_go, build_node, build_python, build_kotlin, find_postgres):
        f(env)


def reuse(env: Env) -> None:
    """--no-build: take what an earlier run built, where it still is."""
    found = {
        "rust": env.target / "release" / "examples" / "checkpoint_bench",
        "ffi": env.target / "release" / "libwflo.a",
        "c": env.work / "tracked_call_c",
        "go": env.work / "wflo_go_bench.test",
        "node": env.work / "wflo.node",
        "python": env.work / "wheels",
        "tiktoken": env.work / "tiktoken",
        "kotlin": env.root / "bindings" / "kotlin" / "target" / "wflo-0.1.0.jar",
    }
    for name, path in found.items():
        if path.exists():
            env.built[name] = path
        else:
            env.missing[name] = f"not built ({path} missing; run without --no-build)"
    if "node" in env.built:
        os.environ["WFLO_NODE_ADDON"] = str(env.built["node"])
        os.environ["WFLO_BENCH_NODE_MODULES"] = str(env.work / "node")
    if "tiktoken" in env.built:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(env.built["tiktoken"])
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if "rust" in env.built:
        env.built["rust"] = env.target / "release" / "examples"
    find_postgres(env)
