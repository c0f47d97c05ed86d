"""The host's share of a synchronous frame on the stick: what enet-edge's runner does on the host with what the
stick sends back, per 360x480 frame, for the two outputs the ncs2 export can have, measured interleaved in one run.

- **logits** (the default ncs2 export): the stick writes (1, 12, H, W) f16 logits; the OpenVINO adapter copies them
  out widened to the IR's f32 (``np.array(..., dtype=float32)``), then the segmenter's arg-max
  (:class:`~enet_edge.runtime.segmenter.ChannelArgMax`) gives (H, W) uint8 class ids. numpy's own ``np.argmax`` of
  the same f32 logits is timed beside it (the arg-max it replaced; same ids).
- **class map** (``--class-map int32``): the stick writes (1, H, W) int32 class ids; the adapter copies them out and
  the segmenter narrows them to uint8.

Both share the preprocess (a camera-size frame to the (1, H, W, 3) u8 tensor; at the model's size a no-op copy) and
the USB transfer the time model already counts. The figures are this host's: a Raspberry Pi-class board takes many
times longer, which is the point of weighing the class map (docs/ncs2.md).

    python benchmarks/myriad_host_share.py [--rounds 200] [--out-dir benchmarks/results]

Writes ``DATE-myriad-host-share-<machine>.json`` and ``.md`` (medians in ms, the machine, the versions).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from enet_edge.device.bench.machine import machine_info  # noqa: E402
from enet_edge.fileio import atomic_write_text  # noqa: E402
from enet_edge.runtime.segmenter import ChannelArgMax, Segmenter  # noqa: E402
from enet_edge.workstation.suite.report import result_stem  # noqa: E402

SIZE = (360, 480)
CLASSES = 12
WIDEN, ARGMAX, NP_ARGMAX = "logits: widen f16->f32", "logits: arg-max (ChannelArgMax)", "logits: arg-max (np.argmax)"
HOST_LOGITS, HOST_CLASS_MAP = "logits: host total (widen + ChannelArgMax)", "class map: host total (copy + to uint8)"
"""The steps' names: keys of the document's ``steps`` (docs/ncs2.md's host-share block reads them)."""


def steps(rng: np.random.Generator) -> Dict[str, Callable[[], np.ndarray]]:
    """Name -> one frame's host work (returns the (H, W) uint8 class ids); noise logits (no flat-region ties)."""
    h, w = SIZE
    stick_logits = rng.standard_normal((1, CLASSES, h, w)).astype(np.float16)  # what the stick writes
    stick_map = rng.integers(0, CLASSES, (1, h, w)).astype(np.int32)
    argmax = ChannelArgMax()
    widened = np.array(stick_logits, dtype=np.float32, copy=True)
    return {
        WIDEN: lambda: np.array(stick_logits, dtype=np.float32, copy=True),
        ARGMAX: lambda: Segmenter.class_map(widened, 1, argmax),
        NP_ARGMAX: lambda: np.argmax(widened[0], axis=0).astype(np.uint8),
        HOST_LOGITS: lambda: Segmenter.class_map(np.array(stick_logits, dtype=np.float32, copy=True), 1, argmax),
        HOST_CLASS_MAP: lambda: Segmenter.class_map(np.array(stick_map, copy=True), 1, argmax),
    }


def measure(rounds: int, seed: int = 0) -> Dict[str, Dict[str, float]]:
    """Every step once per round, in turn (interleaved: a busy spell hits all alike); median and p90 ms."""
    work = steps(np.random.default_rng(seed))
    first = {name: fn() for name, fn in work.items()}  # warm-up, and the same ids from both arg-maxes
    assert np.array_equal(first[ARGMAX], first[NP_ARGMAX])
    samples: Dict[str, List[float]] = {name: [] for name in work}
    for _ in range(rounds):
        for name, fn in work.items():
            t0 = time.perf_counter_ns()
            fn()
            samples[name].append((time.perf_counter_ns() - t0) / 1e6)
    return {name: {"median_ms": round(float(np.median(v)), 3), "p90_ms": round(float(np.percentile(v, 90)), 3)}
            for name, v in samples.items()}


def render(document: Dict[str, object]) -> str:
    m = document["machine"]
    lines = [f"# The host's share of a stick frame, {document['created'][:10]}", "",
             f"`{document['command']}` (the JSON beside this page): the host's work on what the stick sends back, "
             f"per {SIZE[0]}x{SIZE[1]} frame, {document['rounds']} interleaved rounds on {m.get('cpu_model')}, "
             f"{m.get('logical_cores')} logical cores; numpy {m['versions']['numpy']}.", "",
             "| step | median ms | p90 ms |", "|---|---:|---:|"]
    lines += [f"| {name} | {v['median_ms']:.2f} | {v['p90_ms']:.2f} |" for name, v in document["steps"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    machine = machine_info()
    document = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "command": "python benchmarks/myriad_host_share.py" + (f" --rounds {args.rounds}"
                                                                       if args.rounds != 200 else ""),
                "size": list(SIZE), "classes": CLASSES, "rounds": args.rounds, "machine": machine,
                "steps": measure(args.rounds)}
    stem = result_stem(document).replace(document["created"][:10], document["created"][:10] + "-myriad-host-share", 1)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / f"{stem}.json", json.dumps(document, indent=1) + "\n", "results")
    atomic_write_text(out / f"{stem}.md", render(document), "results")
    print(render(document))
    print(f"wrote {out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
