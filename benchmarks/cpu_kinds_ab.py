#!/usr/bin/env python3
"""One model on this machine's own instruction set and as lower CPU kinds, alternating processes, many short rounds.

An ISA cap (``ONEDNN_MAX_CPU_ISA``, :mod:`enet_edge.runtime.isa`) holds for a whole process, so two caps cannot be
interleaved inside one run the way ``make bench`` interleaves its variants. This script gets the same protection
against machine drift by alternating processes: every round runs ``enet-edge bench MODEL --niter N`` once per kind
(the order rotates each round), and the ratios are of per-round medians. It answers "would this model run faster
here if OpenVINO used fewer instructions?" (on a Sapphire Rapids VM the INT8 IR ran faster capped at AVX-512 than
with AMX; docs/bench.md, "CPU kinds").

    benchmarks/cpu_kinds_ab.py build/cpu-int8 --kinds native avx512-bf16 --rounds 8 --niter 80

Writes a table to stdout and, with ``--json PATH``, the per-round medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from enet_edge.errors import ConfigError, DeviceError, EnetEdgeError  # noqa: E402
from enet_edge.runtime.isa import ISA_LEVEL_NAMES, environ_for, isa_level, native_level  # noqa: E402

NATIVE = "native"


def bench_once(model: str, kind: str, niter: int, precision: Optional[str], workdir: Path) -> Dict[str, float]:
    """Infer-only and end-to-end medians (ms) of one ``enet-edge bench`` process as ``kind``."""
    out = workdir / f"{kind}.json"
    command = [sys.executable, "-m", "enet_edge.cli", "bench", model, "--niter", str(niter), "--json", str(out)]
    if precision:
        command += ["--precision", precision]
    level = None if kind == NATIVE else isa_level(kind)
    done = subprocess.run(command, capture_output=True, text=True, env=environ_for(level, os.environ))
    if done.returncode != 0 or not out.is_file():
        raise DeviceError(f"enet-edge bench as {kind} failed: "
                          + ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1])
    document = json.loads(out.read_text())
    return {"infer_ms": document["latency_ms"]["median"], "e2e_ms": document["e2e_latency_ms"]["median"],
            "precision": document["precision"]}


def run(model: str, kinds: Sequence[str], rounds: int, niter: int, precision: Optional[str]) -> Dict[str, List]:
    """{kind: [per-round result]} over ``rounds`` rounds, the kinds' order rotating every round."""
    results: Dict[str, List] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="enet-edge-ab-") as tmp:
        for r in range(rounds):
            order = list(kinds[r % len(kinds):]) + list(kinds[:r % len(kinds)])
            for kind in order:
                results[kind].append(bench_once(model, kind, niter, precision, Path(tmp)))
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {results[k][-1]['infer_ms']:.2f} ms" for k in kinds),
                  file=sys.stderr, flush=True)
    return results


def table(results: Dict[str, List]) -> str:
    """Markdown: per kind, the median of the per-round medians and its ratio to the first kind's."""
    kinds = list(results)
    base = {key: statistics.median(r[key] for r in results[kinds[0]]) for key in ("infer_ms", "e2e_ms")}
    lines = ["| kind | precision | infer-only (median of rounds) | x first | end-to-end | x first |",
             "|---|---|---|---|---|---|"]
    for kind in kinds:
        infer = statistics.median(r["infer_ms"] for r in results[kind])
        e2e = statistics.median(r["e2e_ms"] for r in results[kind])
        lines.append(f"| {kind} | {results[kind][0]['precision']} | {infer:.2f} ms | {infer / base['infer_ms']:.3f}x "
                     f"| {e2e:.2f} ms | {e2e / base['e2e_ms']:.3f}x |")
    return "\n".join(lines)


def check_kinds(kinds: Sequence[str], flags: Sequence[str]) -> None:
    """ConfigError unless every kind is ``native`` or a kind this CPU can run as."""
    for kind in kinds:
        if kind != NATIVE and not isa_level(kind).fits(flags):
            native = native_level(flags)
            raise ConfigError(f"this CPU ({native.name if native else 'below AVX2'}) cannot run as {kind}: "
                              f"it lacks {', '.join(sorted(set(isa_level(kind).flags) - set(flags)))}")
    if len(set(kinds)) != len(kinds) or len(kinds) < 2:
        raise ConfigError("give at least two different kinds to compare")


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/cpu_kinds_ab.py", description=__doc__.splitlines()[0])
    p.add_argument("model", help="a model enet-edge bench takes (an export directory, IR, ONNX ...)")
    p.add_argument("--kinds", nargs="+", default=[NATIVE, "avx512-bf16"], metavar="KIND",
                   help=f"{NATIVE} and/or: " + ", ".join(ISA_LEVEL_NAMES))
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--niter", type=int, default=80)
    p.add_argument("--precision", choices=("f32", "bf16", "f16"))
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    try:
        from enet_edge.device.bench import cpuinfo

        if a.rounds < 1 or a.niter < 1:
            raise ConfigError("--rounds and --niter must be >= 1")
        check_kinds(a.kinds, cpuinfo().get("flags", []))
        results = run(a.model, a.kinds, a.rounds, a.niter, a.precision)
    except EnetEdgeError as exc:
        print(f"benchmarks/cpu_kinds_ab.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(table(results))
    if a.json:
        a.json.write_text(json.dumps({"model": a.model, "rounds": a.rounds, "niter": a.niter, "results": results},
                                     indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
