"""``benchmarks/run.py``: arguments -> :class:`~enet_edge.workstation.suite.config.SuiteConfig`, run or re-render,
write the files. Relative paths in the defaults are the repository's (``root``)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

from enet_edge.device import bench
from enet_edge.errors import ConfigError, EnetEdgeError
from enet_edge.runtime.isa import ISA_LEVEL_NAMES
from enet_edge.workstation.suite.config import COMPILE_VARIANT_NAMES, SCHEMA, VARIANT_NAMES, SuiteConfig
from enet_edge.workstation.suite.peers import PEER_NAMES
from enet_edge.workstation.suite.report import derive, render_markdown, write_outputs
from enet_edge.workstation.suite.run import run_suite

def _size(text: str) -> Tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r} must look like 360x480")
    return int(match.group(1)), int(match.group(2))


DESCRIPTION = "make bench: ENet on every runtime and precision of this machine, interleaved in one run."


def parse_args(argv: Optional[Sequence[str]] = None, root: Path = Path(".")) -> SuiteConfig:
    """The suite's config from ``argv``; default build, results and README paths are under ``root``."""
    root = Path(root)
    p = argparse.ArgumentParser(prog="benchmarks/run.py", description=DESCRIPTION)
    p.add_argument("--sizes", type=_size, nargs="+", default=[(360, 480), (720, 960)], metavar="HxW")
    p.add_argument("--modes", nargs="+", default=["latency", "throughput"], choices=bench.MODES)
    p.add_argument("--variants", nargs="+", default=list(VARIANT_NAMES), metavar="NAME",
                   help="subset of: " + ", ".join(VARIANT_NAMES))
    group = p.add_mutually_exclusive_group()
    group.add_argument("--time", type=float, help="seconds per variant, phase and mode (default 6)")
    group.add_argument("--niter", type=int, help="iterations per variant, phase and mode")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--miou-frames", type=int, default=0, help="CamVid val frames for mIoU (0: all; -1: skip)")
    p.add_argument("--build-dir", type=Path, default=root / SuiteConfig.build_dir,
                   help="where the exports are made and reused (default: %(default)s)")
    p.add_argument("--out-dir", type=Path, default=root / SuiteConfig.out_dir,
                   help="where the results JSON, markdown and plot go (default: %(default)s)")
    p.add_argument("--weights", type=Path)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--no-readme", action="store_true", help="do not update benchmarks/results/README.md")
    p.add_argument("--compile-variants", nargs="*", default=list(COMPILE_VARIANT_NAMES), metavar="NAME",
                   help="rows of the MYRIAD X compile table (none: no table); subset of: "
                        + ", ".join(COMPILE_VARIANT_NAMES))
    p.add_argument("--peers", nargs="*", default=list(PEER_NAMES), metavar="NAME",
                   help="peers measured in the same rounds (none: no peers); subset of: " + ", ".join(PEER_NAMES))
    p.add_argument("--cpu-kinds", nargs="*", default=list(ISA_LEVEL_NAMES), metavar="KIND",
                   help="CPU kinds below this machine's to measure too, each in a run with oneDNN capped at its "
                        "instruction set (none: only this machine); subset of: " + ", ".join(ISA_LEVEL_NAMES))
    p.add_argument("--no-limits", action="store_true",
                   help="skip the per-layer counters pass of the recommended variant")
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="measure nothing: re-derive tables, goals and plot from a saved results JSON")
    a = p.parse_args(argv)
    time_s = a.time if a.time is not None else (None if a.niter is not None else 6.0)
    return SuiteConfig(sizes=tuple(a.sizes), modes=tuple(a.modes), variants=tuple(a.variants), time_s=time_s,
                       niter=a.niter, warmup=a.warmup, miou_frames=a.miou_frames, build_dir=a.build_dir,
                       out_dir=a.out_dir, weights=a.weights, data_dir=a.data_dir,
                       readme=None if a.no_readme else root / SuiteConfig.readme, render=a.render,
                       compile_variants=tuple(a.compile_variants), peers=tuple(a.peers),
                       limits=not a.no_limits, cpu_kinds=tuple(a.cpu_kinds))


def rerender(path: Path) -> Dict[str, Any]:
    """A saved suite document with its derived parts (goals, class-map savings, recommendation) recomputed."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--render {path}: not a readable results JSON ({exc})") from exc
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ConfigError(f"--render {path}: not a {SCHEMA} document")
    return derive(document)


def main(argv: Optional[Sequence[str]] = None, root: Path = Path(".")) -> int:
    """``benchmarks/run.py``: 0, or the error's exit code after one line on stderr."""
    try:
        config = parse_args(argv, root)
        if config.render is not None:
            document = rerender(config.render)
        else:
            document = run_suite(config, log=lambda m: print(m, file=sys.stderr, flush=True))
        paths = write_outputs(document, config)
    except EnetEdgeError as exc:
        print(f"benchmarks/run.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("benchmarks/run.py: interrupted", file=sys.stderr)
        return 130
    print(render_markdown(document))
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
