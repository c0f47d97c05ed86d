"""``enet-edge bench`` on the command line: argparse in, :class:`BenchConfig` out, reports printed."""

from __future__ import annotations

import sys
from pathlib import Path

from enet_edge.device.bench.config import (DEFAULT_NITER, DEFAULT_ROUNDS, ENTRY_SYNTAX, HINTS, MODES, BenchConfig,
                                         parse_entry)
from enet_edge.device.bench.machine import machine_info
from enet_edge.device.bench.measure import run_bench
from enet_edge.device.bench.report import (check_writable, compare_document, format_compare, format_report,
                                         result_document, time_model_line, write_json)
from enet_edge.errors import ConfigError, Interrupted
from enet_edge.runtime.adapters import BACKENDS


def add_cli(sub) -> None:
    """Register ``enet-edge bench`` on an argparse subparsers object."""
    import argparse

    p = sub.add_parser(
        "bench", help="latency/throughput of exported models (OpenVINO, ONNX Runtime, TensorFlow)",
        description="Benchmark exported ENet models: model load/compile, first inference, latency "
                    "min/mean/median/p90/p99/max and FPS, separately for infer-only and end-to-end "
                    "(read + pre + infer + post). Several models: --compare, interleaved, ratios to the first.",
        epilog=ENTRY_SYNTAX, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", nargs="?", metavar="MODEL",
                   help="export directory or .xml/.onnx/.pb file, PATH[:BACKEND[:DEVICE[:PRECISION]]]")
    p.add_argument("--compare", nargs="+", metavar="ENTRY", default=None,
                   help="several entries measured interleaved, one table with ratios to the first "
                        "(MODEL, if given, is the first)")
    p.add_argument("--backend", choices=BACKENDS, help="default backend of entries that name none")
    p.add_argument("-d", "--device", default="CPU", help="default device (CPU, GPU, NPU, MYRIAD, AUTO, "
                                                         "HETERO:MYRIAD,CPU ...; default CPU)")
    p.add_argument("--precision", help="default inference precision hint: f32, f16, bf16 (OpenVINO)")
    p.add_argument("-m", "--mode", choices=MODES, default="latency",
                   help="latency: 1 request, sync; throughput: async, --nireq requests in flight (default latency)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("-n", "--niter", "-niter", type=int,
                      help=f"timed iterations per model and phase (default {DEFAULT_NITER})")
    stop.add_argument("-t", "--time", type=float, dest="time_s", metavar="S",
                      help="seconds per model and phase instead of --niter")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations per phase after the first inference "
                                                         "(default 5)")
    p.add_argument("-i", "--images", metavar="DIR", help="frames from this folder (png/jpg/...), read each "
                                                         "iteration; default: seeded random frames")
    p.add_argument("--nireq", "-nireq", type=int, help="requests in flight in throughput mode "
                                                       "(default: the device's optimal number)")
    p.add_argument("--nstreams", "-nstreams", help="OpenVINO NUM_STREAMS: AUTO or a number")
    p.add_argument("--hint", "-hint", choices=HINTS, default="auto",
                   help="OpenVINO PERFORMANCE_HINT (auto: the mode's; none: do not set)")
    p.add_argument("--threads", type=int, help="inference threads (OpenVINO INFERENCE_NUM_THREADS, "
                                               "ONNX Runtime intra-op threads)")
    p.add_argument("--per-layer", "-pc", nargs="?", type=int, const=20, default=0, metavar="N",
                   help="OpenVINO per-layer counters, top N by real time (default N=20)")
    p.add_argument("--rounds", type=int, help=f"interleaved rounds (default 1 for one model, "
                                              f"{DEFAULT_ROUNDS} with --compare)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random frames")
    p.add_argument("--json", metavar="PATH", dest="json_path", help="write the results as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run_cli)


def config_from_args(args) -> BenchConfig:
    """argparse namespace -> :class:`BenchConfig` (the only place that reads ``args``)."""
    specs = ([args.model] if args.model else []) + list(args.compare or [])
    if not specs:
        raise ConfigError("give a MODEL (export directory or .xml/.onnx/.pb) or --compare ENTRY ...")
    entries = tuple(parse_entry(s, args.backend, args.device, args.precision) for s in specs)
    return BenchConfig(entries=entries, mode=args.mode, niter=args.niter, time_s=args.time_s, warmup=args.warmup,
                       images=args.images, nireq=args.nireq, nstreams=args.nstreams, hint=args.hint,
                       threads=args.threads, per_layer=args.per_layer, rounds=args.rounds, seed=args.seed)


def run_cli(args) -> int:
    config = config_from_args(args)
    if args.json_path:  # fail before a long run, not after it
        check_writable(Path(args.json_path))
    log = (lambda m: None) if args.quiet else (lambda m: print(f"bench: {m}", file=sys.stderr, flush=True))
    results = run_bench(config, log=log)
    machine = machine_info()
    compare = args.compare is not None
    if compare:
        print(format_compare(results, config.per_layer))
    else:
        print(format_report(results[0], config.per_layer))
    cpu = machine.get("cpu_model", "?")
    versions = machine["versions"]
    print(f"\nmachine: {cpu}, {machine.get('logical_cores')} logical cores, {machine['os']}, Python "
          f"{machine['python']}; openvino {versions.get('openvino') or '-'}, onnxruntime "
          f"{versions.get('onnxruntime') or '-'}, numpy {versions['numpy']}")
    lines = [line for line in (time_model_line(r, machine) for r in results) if line]
    if lines:
        print("\nwith a stick, please send us this line (the MYRIAD X time model's next calibration points):")
        print("\n".join(lines))
    if args.json_path:
        document = compare_document(results, machine) if compare else result_document(results[0], machine)
        print(f"wrote {write_json(document, args.json_path)}")
    if any(r.interrupted for r in results):
        raise Interrupted("interrupted (Ctrl-C) during the timed runs; the statistics above"
                          + (" and --json" if args.json_path else "") + " hold the iterations measured before it")
    return 0
